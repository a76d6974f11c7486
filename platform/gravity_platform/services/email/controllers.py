"""The email API under /api/v1/email: send and status for admins and service clients, and the dev catcher."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from gravity_platform.kernel.errors import NotFoundError
from gravity_platform.kernel.routing import current_principal, service_of
from gravity_platform.services.email.plugin import EmailService
from gravity_platform.services.email.schemas import CaughtMessage, CaughtPage, EmailStatus, SendRequest

SEND = "email:send"
READ = "email:read"
CATCHER = "email:catcher"
AnyRequest = Request[Any, Any, Any]


def _email(request: AnyRequest) -> EmailService:
    return service_of(request, EmailService)


def _caught(summary: dict[str, Any]) -> CaughtMessage:
    fields = {("sender" if key == "from" else key): value for key, value in summary.items()}
    return CaughtMessage(**fields)


class EmailController(Controller):
    """Queue mail and follow its delivery."""

    path = "/api/v1/email"
    tags = ["email"]

    @post("/send", opt={"permission": SEND}, status_code=202)
    async def send(self, request: AnyRequest, data: JSONBody[SendRequest]) -> EmailStatus:
        """Queue an email (subject + text/html, or a notifications template); delivery happens in the background.
        The same `idempotency_key` returns the same email and sends it once."""
        email = _email(request).logic
        accepted = await email.send(data, actor=current_principal(request).subject)
        return await email.status(accepted.id)

    @get("/{email_id:uuid}", opt={"permission": READ})
    async def status(self, request: AnyRequest, email_id: FromPath[UUID]) -> EmailStatus:
        """Where one email stands: queued, sent or failed, with attempts and the last error."""
        return await _email(request).logic.status(str(email_id))

    @get("/dev/messages", opt={"permission": CATCHER})
    async def caught(self, request: AnyRequest,
                     limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50) -> CaughtPage:
        """Mail held by the dev mail catcher, newest first (only when the node sends through the catcher)."""
        mailbox = _email(request).catcher()
        return CaughtPage(items=[_caught(mail.summary()) for mail in reversed(mailbox.list(limit=limit))])

    @get("/dev/messages/{message_id:str}", opt={"permission": CATCHER})
    async def caught_one(self, request: AnyRequest, message_id: FromPath[str]) -> CaughtMessage:
        """One caught message with its headers and its text and HTML bodies."""
        mail = _email(request).catcher().get(message_id)
        if mail is None:
            raise NotFoundError("No such caught message")
        return _caught(mail.details())
