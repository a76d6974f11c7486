"""Database URLs for a replicated cluster: several hosts, TLS, the primary only; lost servers detected fast."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest

from gravity_platform.kernel.db import connection_target, detect_lost_server, parse_dsn


def test_one_host_keeps_the_simple_form() -> None:
    """A single-host URL gives plain keywords and no TLS or session options (as before)."""
    assert parse_dsn("postgresql://admin:s%40crt@db.internal:6432/app") == {
        "host": "db.internal", "port": 6432, "user": "admin", "password": "s@crt", "database": "app",
    }  # fmt: skip


def test_several_hosts_tls_and_the_primary_only() -> None:
    """Hosts and ports become lists (IPv6 in brackets, default port 5432); verify-full checks the certificate
    and the host name; read-write keeps only the primary; the login stays out of the target."""
    dsn = parse_dsn("postgresql://gravity_admin@10.0.0.1:5432,10.0.0.2,[fd00::3]:5433/gravity"
                    "?sslmode=verify-full&target_session_attrs=read-write")  # fmt: skip
    assert dsn["host"] == ["10.0.0.1", "10.0.0.2", "fd00::3"]
    assert dsn["port"] == [5432, 5432, 5433]
    assert dsn["target_session_attrs"] == "read-write"
    context = dsn["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    target = connection_target(dsn)
    assert "user" not in target and "password" not in target
    assert target["host"] == dsn["host"]


@pytest.mark.parametrize(("mode", "hostname", "verify"), [
    ("verify-ca", False, ssl.CERT_REQUIRED), ("require", False, ssl.CERT_NONE),
])  # fmt: skip
def test_weaker_ssl_modes(mode: str, hostname: bool, verify: ssl.VerifyMode) -> None:
    """verify-ca checks the chain only; require encrypts without checking; disable/prefer add nothing."""
    context = parse_dsn(f"postgresql://u@h/d?sslmode={mode}")["ssl"]
    assert (context.check_hostname, context.verify_mode) == (hostname, verify)
    assert "ssl" not in parse_dsn("postgresql://u@h/d?sslmode=prefer")
    with pytest.raises(ValueError, match="sslmode"):
        parse_dsn("postgresql://u@h/d?sslmode=verify-everything")


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self._transport = _Transport(sock)


async def test_pool_connections_detect_a_vanished_server() -> None:
    """TCP keepalives and a user timeout are set on a pool connection's socket (not on unix sockets)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        await detect_lost_server(_Connection(sock))
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 2
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 5000
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        await detect_lost_server(_Connection(unix))
        assert unix.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
