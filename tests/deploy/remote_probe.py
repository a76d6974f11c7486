"""A standard-library-only client run *on* a test host (``python3 -``) to talk to NATS, Valkey, SeaweedFS's
filer and TLS endpoints of the internal CA (etcd, Patroni) there.

The hosts have neither the nats CLI nor valkey-cli, and must not need PyPI, so the tests send this file over SSH
with a job appended (see :func:`script`) and read one JSON document back from stdout.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DIRECTORY = 1 << 31  # Go's os.ModeDir, in the filer's Mode


class Nats:
    """Just enough of the NATS client protocol: TLS, CONNECT with a password, request/reply."""

    def __init__(self, host: str, port: int, user: str, password: str, ca_file: str) -> None:
        raw = socket.create_connection((host, port), timeout=10)
        self.file = raw.makefile("rb")
        self.info = json.loads(self._line()[len(b"INFO ") :])
        context = ssl.create_default_context(cafile=ca_file)
        self.sock = context.wrap_socket(raw, server_hostname=host)
        self.file = self.sock.makefile("rb")
        connect = {"user": user, "pass": password, "verbose": False, "pedantic": False, "tls_required": True,
                   "protocol": 1, "headers": True, "no_responders": True, "lang": "probe", "version": "0"}  # fmt: skip
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        reply = self._line()
        if reply != b"PONG":
            raise RuntimeError(f"NATS refused the connection: {reply.decode()}")
        self.sock.sendall(b"SUB _INBOX.probe.* 1\r\n")
        self.counter = 0

    def _line(self) -> bytes:
        line = self.file.readline().rstrip(b"\r\n")
        while line == b"PING":
            self.sock.sendall(b"PONG\r\n")
            line = self.file.readline().rstrip(b"\r\n")
        return line

    def request(self, subject: str, payload: bytes = b"") -> Any:
        """Publish with a reply inbox and return the JSON reply."""
        self.counter += 1
        inbox = f"_INBOX.probe.{self.counter}"
        self.sock.sendall(f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
        while True:
            line = self._line()
            if line.startswith((b"MSG ", b"HMSG ")):
                parts = line.split()
                size = int(parts[-1])
                body = self.file.read(size + 2)[:size]
                if line.startswith(b"HMSG "):
                    header_size = int(parts[-2])
                    status = body[:header_size].decode().split("\r\n")[0]
                    if "503" in status:
                        raise RuntimeError(f"no responders for {subject}")
                    body = body[header_size:]
                return json.loads(body)
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())


class Valkey:
    """Just enough RESP2 to send commands and read replies."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")

    def command(self, *args: str) -> Any:
        """Send one command; errors come back as ``{"error": ...}``."""
        encoded = b"".join(f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
        self.sock.sendall(f"*{len(args)}\r\n".encode() + encoded)
        return self._reply()

    def _reply(self) -> Any:
        line = self.file.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            return {"error": rest}
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if rest == "-1" else self.file.read(int(rest) + 2)[:-2].decode()
        if kind == b"*":
            return None if rest == "-1" else [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")


def filer_md5s(base: str, path: str) -> list[str]:
    """The MD5 (base64, as SeaweedFS's filer keeps it) of every file under ``path``, walking its JSON listing."""
    found: list[str] = []
    request = urllib.request.Request(f"{base}{path}/", headers={"Accept": "application/json"})  # noqa: S310 -- http
    listing = json.loads(urllib.request.urlopen(request, timeout=10).read() or b"{}")  # noqa: S310
    for entry in listing.get("Entries") or []:
        if entry["Mode"] & DIRECTORY:
            found += filer_md5s(base, entry["FullPath"])
        elif entry.get("Md5"):
            found.append(entry["Md5"])
    return found


def https(url: str, *, ca_file: str, cert: list[str] | None = None, method: str = "GET",
          auth: str | None = None) -> dict[str, Any]:
    """One request, verified against ``ca_file`` (``http:`` URLs go in plain text), showing the certificate and key
    in ``cert`` if given, with Basic ``auth`` ("user:password") if given: ``{"status", "body"}``, or ``{"error"}``
    when no HTTP answer came (refused, a TLS failure, plain HTTP to a TLS port ...)."""
    context = ssl.create_default_context(cafile=ca_file)
    if cert:
        context.load_cert_chain(*cert)
    request = urllib.request.Request(url, method=method, data=b"" if method in ("POST", "PUT") else None)  # noqa: S310
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        answer = urllib.request.urlopen(request, context=context if url.startswith("https:") else None, timeout=10)  # noqa: S310
        return {"status": answer.status, "body": answer.read().decode()}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode()}
    except (OSError, ValueError) as error:  # urllib's URLError, ssl.SSLError and RemoteDisconnected are OSErrors
        return {"error": repr(error)}


def run(job: dict[str, Any]) -> Any:
    """Execute one job: ``{"kind": "nats"|"valkey"|"filer"|"https", ...}``."""
    if job["kind"] == "nats":
        client = Nats(job["host"], job["port"], job["user"], job["password"], job["ca_file"])
        replies = [client.request(subject, json.dumps(body).encode() if body is not None else b"")
                   for subject, body in job["requests"]]  # fmt: skip
        return {"info": client.info, "replies": replies}
    if job["kind"] == "valkey":
        valkey = Valkey(job["host"], job["port"])
        return [valkey.command(*command) for command in job["commands"]]
    if job["kind"] == "filer":
        return filer_md5s(job["url"], job["path"])
    if job["kind"] == "https":
        return https(job["url"], ca_file=job["ca_file"], cert=job.get("cert"), method=job.get("method", "GET"),
                     auth=job.get("auth"))
    raise ValueError(job["kind"])


def script(job: dict[str, Any]) -> str:
    """This module's source followed by a call running ``job``: feed it to ``python3 -`` on a host."""
    return Path(__file__).read_text() + f"\nprint(json.dumps(run(json.loads({json.dumps(job)!r}))))\n"
