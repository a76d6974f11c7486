"""The Ansible collection is clean under ansible-lint (production profile, offline) and yamllint."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .playbook import COLLECTION, require_tool

pytestmark = pytest.mark.deploy


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    """ansible-lint --offline passes with the profile from ansible/.ansible-lint (production)."""
    lint = require_tool("ansible-lint")
    collections = tmp_path / "collections"
    (collections / "ansible_collections/gravity").mkdir(parents=True)
    (collections / "ansible_collections/gravity/platform").symlink_to(COLLECTION)
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "PATH": f"{lint.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [str(lint), "--offline", "--profile", "production"],
        cwd=COLLECTION, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


def test_yamllint_strict() -> None:
    """yamllint -s passes over the whole collection with ansible/.yamllint."""
    result = subprocess.run(
        [str(require_tool("yamllint")), "-s", "."], cwd=COLLECTION, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
