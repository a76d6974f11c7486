"""The test network: a bridge with NAT so the throwaway hosts reach the Debian mirror.

Everything set up here is recorded in a state file first, so that a run that died half-way is cleaned up by the
next one (the bridge, the nft table, the ip_forward sysctl restored to the value it had before the first run).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def _run(*command: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class HostNetwork:
    """A bridge ``bridge`` holding ``subnet``; the test machine is the gateway (first address)."""

    bridge: str
    subnet: ipaddress.IPv4Network
    nft_table: str
    state_file: Path

    @property
    def gateway(self) -> str:
        """The test machine's address on the bridge (the hosts' default gateway)."""
        return str(self.subnet.network_address + 1)

    def host_ip(self, index: int) -> str:
        """The address of the ``index``-th host (1-based): .11, .12, ..."""
        return str(self.subnet.network_address + 10 + index)

    def up(self) -> None:
        """Create the bridge, the NAT table and turn on forwarding (after cleaning up a stale run)."""
        self.down()
        previous = IP_FORWARD.read_text().strip()
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"ip_forward": previous}))
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        IP_FORWARD.write_text("1\n")
        _run("nft", "-f", "-", stdin=self._nft_rules())

    def down(self) -> None:
        """Remove whatever :meth:`up` created and restore ip_forward; safe to call when nothing is up."""
        if _run("nft", "list", "table", "ip", self.nft_table, check=False).returncode == 0:
            _run("nft", "delete", "table", "ip", self.nft_table)
        if _run("ip", "link", "show", self.bridge, check=False).returncode == 0:
            _run("ip", "link", "del", self.bridge)
        if self.state_file.exists():
            previous = json.loads(self.state_file.read_text())["ip_forward"]
            IP_FORWARD.write_text(f"{previous}\n")
            self.state_file.unlink()

    def _nft_rules(self) -> str:
        return f"""
table ip {self.nft_table} {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {self.subnet} oifname != "{self.bridge}" masquerade
  }}
}}
"""
