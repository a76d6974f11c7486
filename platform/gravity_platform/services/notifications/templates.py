"""The template store: every save adds a version; sends pin the version they used."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import NotFoundError
from gravity_platform.services.notifications.rendering import check_channels, render_channel
from gravity_platform.services.notifications.schemas import Rendered, Template, TemplateChannels, TemplateSave
from gravity_platform.services.notifications.tables import DB, AuditLog
from gravity_platform.services.notifications.tables import Template as TemplateRow


class TemplateNotFoundError(NotFoundError):
    code, title = "template-not-found", "No such template"


def _jsonb(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def to_template(row: dict[str, Any]) -> Template:
    """The API shape of a template row."""
    channels = msgspec.convert(_jsonb(row["channels"]), TemplateChannels)
    return Template(name=row["name"], locale=row["locale"], version=row["version"], category=row["category"],
                    description=row["description"], channels=channels, created_at=row["created_at"],
                    created_by=row["created_by"])


def locale_candidates(locale: str | None) -> list[str]:
    """Locales to try, most specific first: `fr-CA`, then `fr`, then the default ('')."""
    candidates: list[str] = []
    if locale:
        candidates.append(locale)
        language = locale.replace("_", "-").split("-")[0]
        if language != locale:
            candidates.append(language)
    candidates.append("")
    return candidates


class Templates:
    """Operations on templates."""

    async def save(self, name: str, change: TemplateSave, *, actor: str | None) -> Template:
        """Add a version (the first creates the template); 422 if any source does not compile."""
        channels = msgspec.to_builtins(change.channels)
        check_channels(channels)
        async with DB.engine.transaction():
            await TemplateRow.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"template:{name}:{change.locale}")
            rows = await TemplateRow.raw(
                "SELECT coalesce(max(version), 0) AS latest FROM template WHERE name = {} AND locale = {}",
                name, change.locale)
            version = int(rows[0]["latest"]) + 1
            await TemplateRow.insert(TemplateRow(
                id=str(uuid.uuid4()), name=name, locale=change.locale, version=version, category=change.category,
                description=change.description, channels=json.dumps(channels), created_by=actor))
            await audit.record(AuditLog, "template_saved", actor=actor, target=name, locale=change.locale,
                               version=version)
        return await self.get(name, change.locale, version)

    async def get(self, name: str, locale: str = "", version: int | None = None) -> Template:
        """One version (the latest by default) of a template in one locale; 404 when there is none."""
        return to_template(await self._row(name, locale, version))

    async def _row(self, name: str, locale: str, version: int | None) -> dict[str, Any]:
        query = TemplateRow.select().where((TemplateRow.name == name) & (TemplateRow.locale == locale))
        if version is not None:
            query = query.where(TemplateRow.version == version)
        row = await query.order_by(TemplateRow.version, ascending=False).first()
        if row is None:
            raise TemplateNotFoundError(f"No template {name!r}" + (f" in locale {locale!r}" if locale else ""))
        return row

    async def resolve(self, name: str, locale: str | None) -> dict[str, Any]:
        """The latest version of `name` in the best matching locale (falling back to the default)."""
        for candidate in locale_candidates(locale):
            try:
                return await self._row(name, candidate, None)
            except TemplateNotFoundError:
                continue
        raise TemplateNotFoundError(f"No template {name!r}")

    async def latest(self) -> list[Template]:
        """The latest version of every template, by name and locale."""
        rows = await TemplateRow.raw(
            "SELECT DISTINCT ON (name, locale) * FROM template ORDER BY name, locale, version DESC")
        return [to_template(row) for row in rows]

    async def versions(self, name: str, locale: str = "") -> list[Template]:
        """Every version of a template in one locale, newest first; 404 when there is none."""
        rows = await TemplateRow.select().where(
            (TemplateRow.name == name) & (TemplateRow.locale == locale)).order_by(TemplateRow.version, ascending=False)
        if not rows:
            raise TemplateNotFoundError(f"No template {name!r}")
        return [to_template(row) for row in rows]

    async def delete(self, name: str, locale: str, *, actor: str | None) -> None:
        """Delete every version of a template in one locale (notifications already sent keep their content)."""
        async with DB.engine.transaction():
            deleted = await TemplateRow.delete().where(
                (TemplateRow.name == name) & (TemplateRow.locale == locale)).returning(TemplateRow.id)
            if not deleted:
                raise TemplateNotFoundError(f"No template {name!r}")
            await audit.record(AuditLog, "template_deleted", actor=actor, target=name, locale=locale)

    async def render(self, name: str, channel: str, data: dict[str, Any], locale: str | None) -> Rendered:
        """Render the latest version of a template for one channel (the `notifications.render` endpoint)."""
        row = await self.resolve(name, locale)
        fields = _jsonb(row["channels"]).get(channel)
        if not fields:
            raise TemplateNotFoundError(f"Template {name!r} has no {channel} content")
        return rendered(channel, render_channel(fields, data))


def rendered(channel: str, content: dict[str, str | None]) -> Rendered:
    """Rendered content in the shape of the render contract."""
    if channel == "email":
        return Rendered(subject=content["subject"], text=content["text"] or "", html=content.get("html"))
    if channel == "sms":
        return Rendered(text=content["text"] or "")
    return Rendered(text=content["body"] or "", title=content["title"])
