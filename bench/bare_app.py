"""The baseline: a bare Litestar app with one JSON handler, served by uvicorn exactly as a Gravity node is.

Run by ``bench/run.py`` as ``python bench/bare_app.py PORT``. The handler returns a static document shaped
like the user profile ``GET /api/v1/users/me`` returns, so both responses are about the same size."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from litestar import Litestar, get
from serving import run

PROFILE: dict[str, Any] = {
    "id": "0b5d1f8e-8a36-4c55-9f0e-3f1b2a6c9d11",
    "email": "bench@example.com",
    "display_name": "bench",
    "roles": ["user"],
    "is_active": True,
    "email_verified": False,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "metadata": {},
}


@get("/api/v1/users/me", sync_to_thread=False)
def me() -> dict[str, Any]:
    """A static profile."""
    return PROFILE


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


app = Litestar(route_handlers=[me, healthz], debug=False)


def main() -> None:
    port = int(sys.argv[1])
    # The same uvicorn settings as gravity_platform.kernel.server.serve.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on", server_header=False,
        proxy_headers=False,
    )
    run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
