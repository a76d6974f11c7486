"""A local stand-in for Twilio's REST API (Messages resource), checking requests as the real API does.

It answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` like Twilio: 201 with a Message resource,
401 (code 20003) for bad Basic credentials, 400 with Twilio's error codes for a bad request, and, like Twilio's
test credentials, 400 (21211) for the magic invalid number +15005550001. `fail_next(to, *statuses)` scripts
answers (e.g. 503, 429) for the next requests to one number."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token"
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "twilio-test-api-key-secret"
FROM_NUMBER = "+14155550100"
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"
INVALID_NUMBER = "+15005550001"

_ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20503: (503, "Service unavailable"),
    21211: (400, "The 'To' number is not a valid phone number."),
    21602: (400, "Message body is required."),
    21603: (400, "The 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
}
_CODE_FOR_STATUS = {429: 20429, 503: 20503, 500: 20500}


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    authorization: str | None
    content_type: str | None
    form: dict[str, str]


@dataclass
class FakeTwilio:
    """The fake's state: what it received, and scripted answers per `To` number."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    scripted: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, to: str, *statuses: int) -> None:
        """Answer the next requests to `to` with these HTTP statuses (Twilio's error code for each)."""
        with self.lock:
            self.scripted.setdefault(to, []).extend(statuses)

    def sent_to(self, to: str) -> list[Recorded]:
        """The requests made for `to`."""
        with self.lock:
            return [r for r in self.requests if r.form.get("To") == to]

    def answer(self, path: str, authorization: str | None, content_type: str | None,
               body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        with self.lock:
            self.requests.append(Recorded(path, authorization, content_type, form))
            scripted = self.scripted.get(form.get("To", ""), [])
            status = scripted.pop(0) if scripted else None
        if path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
            return _error(20404)
        if authorization not in (_basic(ACCOUNT_SID, AUTH_TOKEN), _basic(API_KEY_SID, API_KEY_SECRET)):
            return _error(20003)
        if not (content_type or "").startswith("application/x-www-form-urlencoded"):
            return _error(21604)
        if status is not None:
            return _error(_CODE_FOR_STATUS.get(status, 20503), status)
        missing = [code for name, code in (("To", 21604), ("Body", 21602)) if not form.get(name)]
        if not form.get("From") and not form.get("MessagingServiceSid"):
            missing.append(21603)
        if missing:
            return _error(missing[0])
        if form["To"] == INVALID_NUMBER:
            return _error(21211)
        return 201, _message(form)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _error(code: int, status: int | None = None) -> tuple[int, dict[str, Any]]:
    http_status, message = _ERRORS.get(code, (status or 500, "Error"))
    http_status = status or http_status
    return http_status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": http_status}


def _message(form: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + secrets.token_hex(16)
    return {
        "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": form["Body"], "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"), "num_segments": "1", "price": None, "sid": sid,
        "status": "accepted" if form.get("MessagingServiceSid") else "queued", "to": form["To"],
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    """Serve a FakeTwilio on a free loopback port (in a thread) for the duration of the block."""
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, document = fake.answer(self.path, self.headers.get("Authorization"),
                                           self.headers.get("Content-Type"), body)
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-twilio", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
