"""The plugin host: discovery through entry points, load order, unknown names, hooks and route permissions."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pluggy
import pytest
from litestar import get

from gravity_platform.gateway.plugin import GatewayService
from gravity_platform.kernel import hookspecs
from gravity_platform.kernel.access import PUBLIC, MissingPermissionError, check_route_permissions
from gravity_platform.kernel.hookspecs import documented_hooks, hookimpl
from gravity_platform.kernel.plugins import (
    PluginError,
    Service,
    discover,
    discover_services,
    hook_manager,
    resolve_order,
)
from gravity_platform.services.auth.plugin import AuthService
from gravity_platform.services.users.plugin import UsersService


def make_service(service_name: str, *needs: str) -> Service:
    cls = type(f"{service_name.title()}Service", (Service,), {"name": service_name, "port": 9000,
                                                               "requires": needs})
    service: Service = cls()
    return service


def names(services: list[Service]) -> list[str]:
    return [service.name for service in services]


# --- discovery -------------------------------------------------------------------------------------------------


def test_discover_finds_the_builtin_services() -> None:
    services, _ = discover()
    assert {"gateway", "auth", "users"} <= set(services)
    assert services["gateway"] is GatewayService
    assert services["auth"] is AuthService
    assert services["users"] is UsersService
    assert all(issubclass(cls, Service) for cls in services.values())


def test_discover_honours_the_allow_list() -> None:
    services, hooks = discover(["users"])
    assert set(services) == {"users"}
    assert hooks == []


# --- load order ------------------------------------------------------------------------------------------------


def test_dependencies_come_first() -> None:
    installed = {s.name: s for s in (make_service("c", "a"), make_service("a", "b"), make_service("b"))}
    assert names(resolve_order(installed, [])) == ["b", "a", "c"]
    assert names(resolve_order(installed, ["c", "a", "b"])) == ["b", "a", "c"]
    assert names(resolve_order(installed, ["a", "b"])) == ["b", "a"]


def test_only_wanted_services_are_hosted() -> None:
    installed = {s.name: s for s in (make_service("a", "b"), make_service("b"))}
    assert names(resolve_order(installed, ["a"])) == ["a"], "a dependency elsewhere is reached over NATS"
    assert names(resolve_order(installed, ["b"])) == ["b"]


def test_builtin_order() -> None:
    installed = discover_services()
    every = names(resolve_order(installed, []))
    assert every.index("users") < every.index("auth"), "auth calls users"
    assert names(resolve_order(installed, ["auth", "users"])) == ["users", "auth"]
    assert names(resolve_order(installed, ["gateway"])) == ["gateway"]


def test_unknown_service_names_the_installed_ones() -> None:
    installed = discover_services()
    with pytest.raises(PluginError) as error:
        resolve_order(installed, ["users", "payments", "nope"])
    message = str(error.value)
    assert "payments" in message
    assert "nope" in message
    assert "installed: " in message
    for name in ("auth", "gateway", "users"):
        assert name in message.split("installed: ", 1)[1]


def test_dependency_cycles_are_refused() -> None:
    installed = {s.name: s for s in (make_service("x", "y"), make_service("y", "x"))}
    with pytest.raises(PluginError, match="cycle"):
        resolve_order(installed, [])


# --- hooks -----------------------------------------------------------------------------------------------------


def test_every_hook_is_documented() -> None:
    hooks = documented_hooks()
    assert hooks, "there are hooks to document"
    for name, hook in hooks.items():
        doc = inspect.getdoc(hook)
        assert doc, f"{name} has no docstring"
        lowered = doc.lower()
        parameters = list(inspect.signature(hook).parameters)
        assert "parameters:" in lowered, f"{name} does not describe its parameters"
        for parameter in parameters:
            assert f"`{parameter}`" in doc, f"{name} does not document its parameter {parameter!r}"
        if not parameters:
            assert "parameters: none" in lowered, f"{name} should say it takes no parameters"
        assert "returns:" in lowered, f"{name} does not say what it returns"
        first_result = getattr(hook, f"{hookspecs.PROJECT}_spec")["firstresult"]
        if first_result:
            assert "first result wins" in lowered, f"{name} is first-result but does not say so"
        else:
            assert "not first-result" in lowered, f"{name} must say its results are all collected"


def test_every_hookspec_in_the_module_is_listed() -> None:
    specs = {name for name, value in vars(hookspecs).items()
             if callable(value) and hasattr(value, f"{hookspecs.PROJECT}_spec")}
    assert specs == set(documented_hooks())


def test_every_hook_is_in_the_plugin_guide() -> None:
    """docs/plugins.md has a section per hook naming each parameter and whether the first result wins."""
    guide = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    sections = {part.partition("`")[0]: part for part in guide.split("\n### `")[1:]}
    for name, hook in documented_hooks().items():
        assert name in sections, f"docs/plugins.md has no section for the hook {name}"
        section = sections[name]
        for parameter in inspect.signature(hook).parameters:
            assert f"`{parameter}`" in section, f"docs/plugins.md does not explain {name}'s {parameter!r}"
        first_result = getattr(hook, f"{hookspecs.PROJECT}_spec")["firstresult"]
        expected = "first result wins" if first_result else "all results are collected"
        assert expected in " ".join(section.lower().split()), f"docs/plugins.md should say of {name}: {expected}"
    assert set(sections) <= set(documented_hooks()), "docs/plugins.md documents a hook that does not exist"


class _Support:
    @hookimpl
    def gravity_role_permissions(self) -> dict[str, list[str]]:
        return {"support": ["users:read"], "user": ["files:read"]}


class _Mailer:
    def __init__(self, answer: bool | None) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def gravity_auth_token_sender(self, kind: str, email: str, token: str, link: str) -> bool | None:
        self.calls.append({"kind": kind, "email": email, "token": token, "link": link})
        return self.answer


def test_hooks_merge_and_first_result() -> None:
    decline, deliver, never = _Mailer(None), _Mailer(True), _Mailer(False)
    manager = hook_manager([_Support(), never, deliver, decline], [])
    assert manager.hook.gravity_role_permissions() == [{"support": ["users:read"], "user": ["files:read"]}]
    delivered = manager.hook.gravity_auth_token_sender(kind="verify-email", email="a@example.com", token="t",
                                                       link="http://x/verify-email?token=t")
    assert delivered is True, "first result wins"
    assert len(decline.calls) == 1
    assert len(deliver.calls) == 1
    assert never.calls == [], "later implementations are not called once one answered"


def test_unknown_hooks_are_refused() -> None:
    class Typo:
        @hookimpl
        def gravity_role_permission(self) -> dict[str, list[str]]:
            return {}

    with pytest.raises(pluggy.PluginValidationError):
        hook_manager([Typo()], [])


# --- routes without a permission -------------------------------------------------------------------------------


def test_a_route_without_a_permission_is_refused() -> None:
    @get("/declared", opt={"permission": PUBLIC}, sync_to_thread=False)
    def declared() -> None:
        return None

    @get("/forgotten", sync_to_thread=False)
    def forgotten() -> None:
        return None

    check_route_permissions([declared])
    with pytest.raises(MissingPermissionError, match="forgotten"):
        check_route_permissions([declared, forgotten])


def test_versions_become_semantic_versions_for_nats_micro() -> None:
    from nats.micro.service import SEMVER_REGEX

    from gravity_platform.kernel.bus import semver

    for version, expected in [("0.1.0", "0.1.0"), ("0.1.0.post1", "0.1.0-post1"), ("1.0rc1", "1.0.0-rc1"),
                              ("2", "2.0.0"), ("1.2.3.dev4+g1a2b", "1.2.3-dev4-g1a2b")]:
        assert semver(version) == expected
        assert re.match(SEMVER_REGEX, expected), expected
