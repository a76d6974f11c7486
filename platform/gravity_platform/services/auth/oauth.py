"""The standards endpoints: RFC 6749 token, RFC 7009 revoke, RFC 7662 introspect, OIDC userinfo and discovery."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import URLEncodedBody

from gravity_platform.kernel.access import AUTHENTICATED, PUBLIC
from gravity_platform.kernel.errors import GravityError, UnauthorizedError
from gravity_platform.kernel.routing import (
    client_address,
    current_principal,
    optional_principal,
    service_of,
)
from gravity_platform.services.auth.apikeys import basic_credentials
from gravity_platform.services.auth.oauth_errors import OAuthError, invalid_client
from gravity_platform.services.auth.plugin import AuthService
from gravity_platform.services.auth.schemas import TokenResponse, UserInfo
from gravity_platform.services.auth.signin import MFA_GRANT
from gravity_platform.services.auth.tables import Credential

Form = URLEncodedBody[dict[str, str]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
AnyRequest = Request[Any, Any, Any]


def _auth(request: AnyRequest) -> AuthService:
    return service_of(request, AuthService)


def _field(data: dict[str, str], name: str) -> str:
    value = data.get(name)
    if not value:
        raise OAuthError("invalid_request", f"The {name} parameter is required")
    return value


class OAuthController(Controller):
    """OAuth 2.0 and OpenID Connect endpoints."""

    tags = ["auth"]

    @post("/oauth2/token", opt={"permission": PUBLIC}, status_code=200)
    async def token(self, request: AnyRequest, data: Form) -> Response[TokenResponse]:
        """Issue tokens for the password, refresh_token, client_credentials and MFA grants."""
        auth, address = _auth(request), client_address(request)
        grant_type = data.get("grant_type", "")
        if grant_type == "password":
            result = await auth.signin.password(
                _field(data, "username"), _field(data, "password"), data.get("scope"), address
            )
        elif grant_type == "refresh_token":
            result = await auth.sessions.refresh(_field(data, "refresh_token"), address=address)
        elif grant_type == "client_credentials":
            creds = basic_credentials(request.headers.get("authorization"))
            if creds is None and data.get("client_id") and data.get("client_secret"):
                creds = (data["client_id"], data["client_secret"])
            if creds is None:
                raise invalid_client("Client authentication is required")
            result = await auth.apikeys.grant(creds[0], creds[1], data.get("scope"), address)
        elif grant_type == MFA_GRANT:
            result = await auth.signin.mfa(_field(data, "mfa_token"), _field(data, "otp"), address)
        else:
            raise OAuthError("unsupported_grant_type", f"The grant type {grant_type!r} is not supported")
        return Response(result, headers=NO_STORE)

    @post("/oauth2/revoke", opt={"permission": PUBLIC}, status_code=200)
    async def revoke(self, request: AnyRequest, data: Form) -> None:
        """RFC 7009: revoke a refresh token (its session) or an access token; 200 even when unknown."""
        auth, address, maybe_principal = _auth(request), client_address(request), optional_principal(request)
        token = data.get("token", "")
        if not token:
            raise OAuthError("invalid_request", "The token parameter is required")
        actor = maybe_principal.subject if maybe_principal else None
        if data.get("token_type_hint") != "access_token" and await auth.sessions.revoke_refresh_token(
            token, actor=actor, address=address
        ):
            return
        try:
            principal = await auth.node.verifier.verify(token)
        except GravityError:
            return
        await auth.revoke_access_token(principal, actor=actor, address=address)

    @post("/oauth2/introspect", opt={"permission": PUBLIC}, status_code=200)
    async def introspect(self, request: AnyRequest, data: Form) -> dict[str, Any]:
        """RFC 7662: for callers holding `auth:introspect` (or an API key with it); `{"active": false}` otherwise."""
        auth, maybe_principal = _auth(request), optional_principal(request)
        allowed = maybe_principal is not None and maybe_principal.can("auth:introspect")
        if not allowed:
            creds = basic_credentials(request.headers.get("authorization"))
            if creds is None:
                raise invalid_client("Introspection needs an admin token or client credentials")
            await auth.apikeys.grant(creds[0], creds[1], "auth:introspect", "introspect")
        return await auth.introspect(data.get("token", ""))

    @get("/oauth2/userinfo", opt={"permission": AUTHENTICATED})
    async def userinfo(self, request: AnyRequest) -> UserInfo:
        """OIDC userinfo for the bearer."""
        auth, principal = _auth(request), current_principal(request)
        row = (
            await Credential.select(Credential.email, Credential.email_verified)
            .where(Credential.id == principal.subject)
            .first()
        )
        if row is None:
            raise UnauthorizedError("The account no longer exists")
        profile = await auth.call_users("principal", {"id": principal.subject})
        return UserInfo(
            sub=principal.subject,
            email=row["email"],
            email_verified=row["email_verified"],
            name=profile.get("display_name"),
        )

    @get("/.well-known/openid-configuration", opt={"permission": PUBLIC}, cache=60)
    async def discovery(self, request: AnyRequest) -> dict[str, Any]:
        """OpenID Provider metadata."""
        auth = _auth(request)
        issuer = auth.node.settings.public_url
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth2/token",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "introspection_endpoint": f"{issuer}/oauth2/introspect",
            "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "grant_types_supported": ["password", "refresh_token", "client_credentials", MFA_GRANT],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "id_token_signing_alg_values_supported": [auth.settings.algorithm],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    @get("/.well-known/jwks.json", opt={"permission": PUBLIC})
    async def jwks(self, request: AnyRequest) -> Response[dict[str, Any]]:
        """The public signing keys: current and next."""
        auth = _auth(request)
        return Response(await auth.keys.jwks(), headers={"Cache-Control": "public, max-age=60"})
