"""Template rendering: Jinja2's sandbox, strict about undefined variables, HTML autoescaped.

A template is checked when it is saved: it must compile, and it may not reach for underscore attributes
(the way out of a sandbox starts with `''.__class__`), so such a template is refused with 422 rather than
failing at every send. The sandbox still guards rendering itself."""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from gravity_platform.kernel.errors import UnprocessableError

MAX_OUTPUT = 100_000
"""Characters one rendered field may hold."""


class TemplateError(UnprocessableError):
    code, title = "invalid-template", "Invalid template"


class RenderError(UnprocessableError):
    code, title = "render-failed", "The template could not be rendered"


def _environment(autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=autoescape, auto_reload=False,
                                cache_size=400)


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def _environment_for(field: str) -> SandboxedEnvironment:
    return _HTML if field == "html" else _TEXT


def check_source(where: str, field: str, source: str) -> None:
    """Refuse (422) a source that does not compile or touches private attributes."""
    environment = _environment_for(field)
    try:
        tree = environment.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"{where}.{field}: line {error.lineno}: {error.message}") from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else _constant(getattr(node, "arg", None))
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateError(f"{where}.{field}: access to {name!r} is not allowed in templates")
    for node in tree.find_all(nodes.Filter):
        if node.name == "attr":
            raise TemplateError(f"{where}.{field}: the attr filter is not allowed in templates")


def _constant(node: nodes.Node | None) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def check_channels(channels: dict[str, dict[str, str | None]]) -> None:
    """Check every source of every channel of a template."""
    if not any(channels.values()):
        raise TemplateError("A template needs content for at least one channel")
    for channel, fields in channels.items():
        for field, source in (fields or {}).items():
            if source is not None:
                check_source(channel, field, source)


def render_field(field: str, source: str, data: dict[str, Any]) -> str:
    """Render one field; an undefined variable or a forbidden operation is a 422."""
    environment = _environment_for(field)
    try:
        output = environment.from_string(source).render(data)
    except jinja2.UndefinedError as error:
        raise RenderError(f"{field}: {error.message}") from None
    except jinja2.exceptions.SecurityError as error:
        raise RenderError(f"{field}: not allowed: {error}") from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise RenderError(f"{field}: {error}") from None
    if len(output) > MAX_OUTPUT:
        raise RenderError(f"{field}: the rendered text is longer than {MAX_OUTPUT} characters")
    return output


def render_channel(fields: dict[str, str | None], data: dict[str, Any]) -> dict[str, str | None]:
    """Render every field of one channel's content."""
    return {field: None if source is None else render_field(field, source, data) for field, source in fields.items()}
