"""The SDK type-checks the way an application uses it, and installs light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


@pytest.mark.timeout(600)
def test_typed_usage_passes_mypy_strict(request, tmp_path):
    cache = getattr(request.config, "cache", None)
    cache_dir = cache.mkdir("sdk-mypy") if cache is not None else tmp_path
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file=",
            "--python-version=3.11",
            f"--cache-dir={cache_dir}",
            str(HERE / "typed_usage.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sdk_imports_only_its_light_dependencies():
    code = (
        "import sys, gravity_sdk; "
        "heavy = {'httpx', 'litestar', 'pydantic', 'nats', 'websockets', 'gravity_platform', 'gravity_cli'}; "
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
