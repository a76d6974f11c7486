"""Running the collection's playbooks with ansible-playbook, and reading the PLAY RECAP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "ansible"
RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")

ANSIBLE_CFG = """\
[defaults]
host_key_checking = False
forks = 10
interpreter_python = /usr/bin/python3
callback_result_format = yaml
callbacks_enabled = ansible.builtin.profile_tasks
nocows = True
retry_files_enabled = False

[ssh_connection]
pipelining = True
control_path_dir = {control_dir}
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null \
-o StrictHostKeyChecking=no -o LogLevel=ERROR
"""


def find_tool(name: str) -> Path | None:
    """Locate an Ansible command: $GRAVITY_ANSIBLE_BIN, then beside this Python, then $PATH."""
    for directory in (os.environ.get("GRAVITY_ANSIBLE_BIN"), str(Path(sys.executable).parent)):
        if directory and (Path(directory) / name).is_file():
            return Path(directory) / name
    found = shutil.which(name)
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """Return an Ansible command's path; without it, skip the test (fail under CI, where it must be installed)."""
    found = find_tool(name)
    if found is None:
        message = f"{name} not found: install ansible, ansible-lint and yamllint (PyPI) or set GRAVITY_ANSIBLE_BIN"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    returncode: int
    output: str
    recap: dict[str, dict[str, int]]
    seconds: float

    def total(self, counter: str) -> int:
        """The sum of one recap counter (``changed``, ``failed``, ...) over all hosts."""
        return sum(counts.get(counter, 0) for counts in self.recap.values())

    def changed_tasks(self) -> list[str]:
        """The 'changed:' lines of the output, to explain a non-idempotent run."""
        return [line for line in self.output.splitlines() if line.startswith("changed:")]

    def explain(self, limit: int = 12000) -> str:
        """What went wrong, for an assertion message: each failed task with its result (including the diagnostics
        the roles gather on failure), then the recap; CI shows only what the test prints."""
        lines = self.output.splitlines()
        failed: list[str] = []
        for index, line in enumerate(lines):
            if line.startswith(("fatal:", "failed:")) and "...ignoring" not in "".join(lines[index + 1 : index + 3]):
                block = [line]
                for following in lines[index + 1 : index + 80]:
                    if following and not following.startswith(" "):
                        break
                    block.append(following)
                failed.append("\n".join(block))
        recap = self.output[self.output.rfind("PLAY RECAP") :] if "PLAY RECAP" in self.output else self.output[-2000:]
        return ("\n".join(failed) + "\n" + recap[:3000])[-limit:]


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """Parse the PLAY RECAP section of ansible-playbook's output into per-host counters."""
    recap: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = RECAP_LINE.match(line.strip()) if in_recap else None
        if match:
            counts = dict(item.split("=") for item in match["counts"].split())
            recap[match["host"]] = {key: int(value) for key, value in counts.items()}
    return recap


@dataclass(frozen=True)
class AnsibleEnv:
    """A private Ansible configuration: the collection on the collections path, a vault password, a config."""

    workdir: Path
    playbook_bin: Path

    @classmethod
    def create(cls, workdir: Path, playbook_bin: Path) -> AnsibleEnv:
        """Lay out ansible.cfg, the collection link and a vault password file under ``workdir``."""
        link = workdir / "collections/ansible_collections/gravity/platform"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(COLLECTION)
        (workdir / "cp").mkdir(exist_ok=True)
        (workdir / "ansible.cfg").write_text(ANSIBLE_CFG.format(control_dir=workdir / "cp"))
        vault = workdir / "vault-password"
        if not vault.exists():
            vault.write_text(os.urandom(24).hex() + "\n")
            vault.chmod(0o600)
        return cls(workdir, playbook_bin)

    @property
    def vault_password_file(self) -> Path:
        """The file holding this run's Ansible Vault password."""
        return self.workdir / "vault-password"

    def environ(self) -> dict[str, str]:
        """The environment for ansible-* commands."""
        return {
            **os.environ,
            "ANSIBLE_CONFIG": str(self.workdir / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(self.workdir / "collections"),
            "ANSIBLE_VAULT_PASSWORD_FILE": str(self.vault_password_file),
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / "tmp"),
            "ANSIBLE_FORCE_COLOR": "0",
            "PYTHONWARNINGS": "ignore",
        }

    def playbook(
        self, playbook: str, inventory: Path, *, extra_vars: dict[str, object] | None = None, log: Path | None = None
    ) -> PlaybookRun:
        """Run ``ansible/playbooks/<playbook>`` against ``inventory``; keep the full output in ``log``."""
        command = [str(self.playbook_bin), "-i", str(inventory), str(COLLECTION / "playbooks" / playbook)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, env=self.environ(), cwd=self.workdir, check=False
        )
        output = result.stdout + result.stderr
        if log is not None:
            log.write_text(output)
        return PlaybookRun(result.returncode, output, parse_recap(result.stdout), time.monotonic() - started)

    def read_vault(self, path: Path) -> dict[str, str]:
        """Decrypt a vault-encrypted YAML mapping of strings (the generated secrets)."""
        vault_bin = self.playbook_bin.with_name("ansible-vault")
        result = subprocess.run(
            [str(vault_bin), "decrypt", "--output=-", str(path)],
            capture_output=True, text=True, env=self.environ(), check=True,
        )  # fmt: skip
        secrets: dict[str, str] = {}
        for line in result.stdout.splitlines():
            if ": " in line and not line.startswith((" ", "#", "---")):
                key, value = line.split(": ", 1)
                secrets[key] = value.strip().strip("'\"")
        return secrets
