"""The provider's options (`[service.sms.provider_options]`), validated when the sms service starts."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

AccountSid = Annotated[str, msgspec.Meta(pattern=r"^AC[0-9a-fA-F]{32}$")]
ApiKeySid = Annotated[str, msgspec.Meta(pattern=r"^SK[0-9a-fA-F]{32}$")]
ServiceSid = Annotated[str, msgspec.Meta(pattern=r"^MG[0-9a-fA-F]{32}$")]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TwilioOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How to reach Twilio.

    `account_sid` names the account; requests authenticate with HTTP Basic as `account_sid:auth_token`, or with
    an API key (`api_key_sid:api_key_secret`) when one is given. `auth_token` is also what Twilio signs status
    callbacks with: without it no callback is requested. Messages go out from `from_number` (E.164) or through
    `messaging_service_sid`. `status_callback_url` overrides the callback URL the sms service derives from its
    public URL; `base_url` points elsewhere than Twilio (tests, a proxy)."""

    account_sid: AccountSid
    auth_token: Secret | None = None
    api_key_sid: ApiKeySid | None = None
    api_key_secret: Secret | None = None
    from_number: Annotated[str, msgspec.Meta(pattern=r"^\+[1-9][0-9]{6,14}$")] | None = None
    messaging_service_sid: ServiceSid | None = None
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")] = "https://api.twilio.com"
    status_callback_url: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$")] | None = None
    timeout: Annotated[float, msgspec.Meta(gt=0, le=120)] = 15.0

    def __post_init__(self) -> None:
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise ValueError("api_key_sid and api_key_secret go together")
        if self.auth_token is None and self.api_key_sid is None:
            raise ValueError("auth_token (or api_key_sid with api_key_secret) is needed")
        if self.from_number is None and self.messaging_service_sid is None:
            raise ValueError("from_number or messaging_service_sid is needed")

    @classmethod
    def parse(cls, options: dict[str, Any]) -> TwilioOptions:
        """Validate raw options; a ValueError naming the problem (never echoing a secret) if they are wrong."""
        try:
            return msgspec.convert(options, cls, strict=False)
        except msgspec.ValidationError as error:
            raise ValueError(f"invalid Twilio options: {error}") from None

    @property
    def credentials(self) -> tuple[str, str]:
        """The HTTP Basic user and password of API requests."""
        if self.api_key_sid is not None and self.api_key_secret is not None:
            return self.api_key_sid, self.api_key_secret
        assert self.auth_token is not None
        return self.account_sid, self.auth_token

    @property
    def messages_url(self) -> str:
        """Where messages are created."""
        return f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
