"""``gravity openapi``: the merged OpenAPI 3.1 document, without a running node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gravity_cli.commands import app_of

cli = typer.Typer()


def build_document() -> dict[str, Any]:
    """The document ``GET /openapi.json`` serves on a node hosting every installed service."""
    import asyncio

    from gravity_platform.gateway.openapi import merged_schema
    from gravity_platform.kernel.app import create_app
    from gravity_platform.kernel.crypto import MasterKey
    from gravity_platform.kernel.node import build_node
    from gravity_platform.kernel.settings import GravitySettings

    node = build_node(GravitySettings(), master_key=MasterKey(bytes(32)))
    local = create_app(node).openapi_schema.to_schema()
    return asyncio.run(merged_schema(node, local))


@cli.command()
def openapi(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.",
                                                show_default=False, dir_okay=False)] = None,
) -> None:
    """Print the merged OpenAPI document of every installed service (JSON)."""
    app = app_of(ctx)
    document = build_document()
    if output is None:
        app.print_json(document)
        return
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    app.success(f"Wrote the OpenAPI document ({len(document.get('paths', {}))} paths) to {output}")
