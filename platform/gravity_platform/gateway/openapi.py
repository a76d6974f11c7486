"""One OpenAPI 3.1 document for the whole platform, merged from every service wherever it runs."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from gravity_platform.kernel.errors import GravityError
from gravity_platform.kernel.forwarding import HttpEnvelope, HttpReply, _decode_reply, _encode

if TYPE_CHECKING:
    from gravity_platform.kernel.node import Node

log = logging.getLogger("gravity.gateway")

SWAGGER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gravity API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui", persistAuthorization: true});</script>
</body></html>"""


def owns(prefixes: tuple[str, ...], path: str) -> bool:
    """Whether `path` falls under one of a service's route prefixes."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


async def _remote_schema(node: Node, service: str) -> dict[str, Any] | None:
    envelope = HttpEnvelope("GET", "/schema/openapi.json", b"", [], b"", "gateway")
    try:
        reply: HttpReply = _decode_reply(await node.bus.request(service, "http", _encode(envelope), timeout=3.0))
    except GravityError as error:
        log.warning("openapi of a remote service unavailable", extra={"service": service, "error": str(error)})
        return None
    if reply.status != 200:
        return None
    document: dict[str, Any] = json.loads(reply.body)
    return document


async def merged_schema(node: Node, local: dict[str, Any]) -> dict[str, Any]:
    """The local document plus the paths and schemas of services hosted on other nodes."""
    document: dict[str, Any] = json.loads(json.dumps(local))
    document["openapi"] = "3.1.0"
    paths: dict[str, Any] = {p: v for p, v in document.get("paths", {}).items() if not p.startswith("/schema")}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, service in node.installed.items():
        if node.hosts(name) or not service.route_prefixes:
            continue
        remote = await _remote_schema(node, name)
        if remote is None:
            continue
        paths.update({p: v for p, v in remote.get("paths", {}).items() if owns(service.route_prefixes, p)})
        schemas.update(remote.get("components", {}).get("schemas", {}))
    document["paths"] = dict(sorted(paths.items()))
    return document
