"""The refresh-token state machine, explored by hypothesis against the real auth service.

Model: one session holds an ordered chain of refresh tokens. Only the newest works; presenting any
older one (outside the reuse interval, which is 0 here) revokes the session for good, as does logout."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx2
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.platform.conftest import new_account
from tests.platform.harness import RunningNode

T = TypeVar("T")


def _machine(loop: asyncio.AbstractEventLoop, url: str) -> type[RuleBasedStateMachine]:
    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    class RefreshTokens(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.http = httpx2.AsyncClient(base_url=url, timeout=10)
            account = run(new_account(self.http))
            self.chain = [account.refresh_token]
            self.access = account.access_token
            self.revoked = False

        async def _refresh(self, token: str) -> httpx2.Response:
            return await self.http.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                               "refresh_token": token})

        @rule()
        def refresh_newest(self) -> None:
            answer = run(self._refresh(self.chain[-1]))
            if self.revoked:
                assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
                return
            assert answer.status_code == 200, answer.text
            self.chain.append(answer.json()["refresh_token"])
            self.access = answer.json()["access_token"]

        @precondition(lambda self: len(self.chain) > 1)
        @rule(data=st.data())
        def present_an_old_one(self, data: st.DataObject) -> None:
            old = data.draw(st.sampled_from(self.chain[:-1]))
            answer = run(self._refresh(old))
            assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
            self.revoked = True

        @rule()
        def logout(self) -> None:
            answer = run(self.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {self.access}"}))
            assert answer.status_code == (401 if self.revoked else 204)
            self.revoked = True

        @invariant()
        def access_token_matches_the_model(self) -> None:
            answer = run(self.http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {self.access}"}))
            assert answer.status_code == (401 if self.revoked else 200)

        def teardown(self) -> None:
            run(self.http.aclose())

    return RefreshTokens


async def test_refresh_token_state_machine(node: RunningNode) -> None:
    auth_settings = node.node.service("auth").settings  # type: ignore[attr-defined]
    previous, auth_settings.refresh_reuse_interval = auth_settings.refresh_reuse_interval, 0.0
    machine = _machine(asyncio.get_running_loop(), node.url)
    config = settings(max_examples=12, stateful_step_count=8, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])
    try:
        await asyncio.to_thread(run_state_machine_as_test, machine, settings=config)
    finally:
        auth_settings.refresh_reuse_interval = previous
