"""The SMS API under /api/v1/sms."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from gravity_platform.kernel.access import PUBLIC
from gravity_platform.kernel.errors import ForbiddenError, NotFoundError
from gravity_platform.kernel.routing import client_address, current_principal, service_of
from gravity_platform.services.sms import devoutbox
from gravity_platform.services.sms.phone import normalize_phone
from gravity_platform.services.sms.plugin import SmsService
from gravity_platform.services.sms.provider import SmsCallbackError, SmsStatusCallbacks
from gravity_platform.services.sms.schemas import OutboxEntry, OutboxPage, SendSms, Sms

AnyRequest = Request[Any, Any, Any]


def _sms(request: AnyRequest) -> SmsService:
    return service_of(request, SmsService)


def _outbox_service(request: AnyRequest) -> SmsService:
    service = _sms(request)
    if service.provider_name != devoutbox.NAME:
        raise NotFoundError("The dev outbox is only there while the \"outbox\" SMS provider is in use")
    return service


class SmsController(Controller):
    """Sending text messages (admins and service clients), their status, the dev outbox and provider callbacks."""

    path = "/api/v1/sms"
    tags = ["sms"]

    @post("/send", opt={"permission": "sms:send"}, status_code=202)
    async def send(self, request: AnyRequest, data: JSONBody[SendSms]) -> Response[Sms]:
        """Queue a message (202); repeating an idempotency key returns the first message (200) and sends once."""
        principal = current_principal(request)
        sms, created = await _sms(request).logic.queue(data, actor=principal.subject,
                                                       address=client_address(request))
        return Response(sms, status_code=202 if created else 200)

    @get("/{sms_id:uuid}", opt={"permission": "sms:read"})
    async def get_sms(self, request: AnyRequest, sms_id: FromPath[UUID]) -> Sms:
        """One message and its delivery state."""
        return await _sms(request).logic.get(str(sms_id))

    @get("/dev/outbox", opt={"permission": "sms:outbox"})
    async def outbox(
        self,
        request: AnyRequest,
        to: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> OutboxPage:
        """What the dev outbox provider kept, newest first (404 unless the "outbox" provider is in use)."""
        service = _outbox_service(request)
        number = normalize_phone(to, service.settings.default_region) if to else None
        async with devoutbox.service_connection() as connection:
            return OutboxPage(items=await devoutbox.list_entries(connection, limit, number))

    @get("/dev/outbox/{entry_id:str}", opt={"permission": "sms:outbox"})
    async def outbox_entry(self, request: AnyRequest, entry_id: FromPath[str]) -> OutboxEntry:
        """One dev outbox entry, by its ID, its message's ID, or a unique prefix of either."""
        _outbox_service(request)
        async with devoutbox.service_connection() as connection:
            return await devoutbox.get_entry(connection, entry_id)

    @post("/callbacks/{provider:str}", opt={"permission": PUBLIC}, status_code=204)
    async def callback(self, request: AnyRequest, provider: FromPath[str]) -> None:
        """A provider's delivery-status report: verified by the provider (403 if it cannot be), then recorded."""
        service = _sms(request)
        active = service.provider
        if active is None or active.name != provider or not isinstance(active, SmsStatusCallbacks):
            raise NotFoundError(f"The SMS provider {provider!r} takes no callbacks here")
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = service.callback_url(provider) + (f"?{query}" if query else "")
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            update = active.parse_status_callback(url, headers, await request.body())
        except SmsCallbackError as error:
            await service.logic.record_rejected_callback(provider, client_address(request), str(error))
            raise ForbiddenError("The callback could not be verified") from None
        if update is not None:
            await service.logic.apply_update(provider, update)
