"""``gravity status --inventory``: the health of every host of a deployment, gathered by Ansible (status.yml).

Each host reports its node (/readyz, version), edge, PostgreSQL member (Patroni's role, state and lag in a
cluster), NATS (JetStream meta leader) and Valkey (role) as the fact ``gravity_status``; this module judges
them and prints one row per host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gravity_cli.application import Application

PG_ROLES = {"leader": "primary", "master": "primary", "primary": "primary", "sync_standby": "sync_replica",
            "replica": "replica", "standby_leader": "replica"}  # fmt: skip
PG_RUNNING = {"running", "streaming"}


@dataclass
class ClusterHealth:
    """Every host's judged report and what is wrong."""

    hosts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"healthy": self.healthy, "problems": self.problems, "hosts": self.hosts}


def judge(reports: dict[str, dict[str, Any]], unreachable: list[str]) -> ClusterHealth:
    """Turn the hosts' raw reports into a verdict per component and for the whole deployment."""
    health = ClusterHealth(problems=[f"{host}: unreachable" for host in sorted(unreachable)])
    for host, raw in sorted(reports.items()):
        entry: dict[str, Any] = {"host": host}
        entry["node"] = _node(raw.get("node"))
        entry["edge"] = None if raw.get("edge") is None else {"ready": raw["edge"]["status"] == 200, **raw["edge"]}
        entry["postgresql"] = _postgresql(raw.get("postgresql"))
        entry["nats"] = _nats(raw.get("nats"))
        entry["valkey"] = raw.get("valkey")
        for component in ("node", "edge", "postgresql", "nats"):
            value = entry[component]
            if value is not None and not value["ready"]:
                health.problems.append(f"{host}: {component} is down")
        if entry["valkey"] is not None and entry["valkey"]["role"] not in ("master", "slave"):
            health.problems.append(f"{host}: valkey is down")
        health.hosts.append(entry)
    _cluster_checks(health)
    return health


def _node(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    return {"ready": raw["status"] == 200, "status": raw["status"], "version": raw.get("version"),
            "checks": raw.get("checks") or {}}  # fmt: skip


def _postgresql(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    role = PG_ROLES.get(raw.get("role") or "", "down")
    lag = raw.get("lag")
    return {"ready": role != "down" and raw.get("state") in PG_RUNNING, "role": role, "state": raw.get("state"),
            "lag": lag if isinstance(lag, int) else None, "patroni": raw.get("patroni", False)}  # fmt: skip


def _nats(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    clustered = (raw.get("cluster_size") or 0) > 1
    ready = raw["status"] == 200 and (not clustered or bool(raw.get("meta_leader")))
    return {"ready": ready, "meta_leader": raw.get("meta_leader"), "cluster_size": raw.get("cluster_size")}


def _cluster_checks(health: ClusterHealth) -> None:
    members = [host["postgresql"] for host in health.hosts if host["postgresql"] is not None]
    primaries = sum(member["role"] == "primary" for member in members)
    if members and primaries != 1:
        health.problems.append(f"postgresql: {primaries} primaries")
    valkeys = [host["valkey"] for host in health.hosts if host["valkey"] is not None]
    if valkeys and sum(valkey["role"] == "master" for valkey in valkeys) != 1:
        health.problems.append("valkey: not exactly one master")


def gather(app: Application, inventory: Path) -> ClusterHealth:
    """Run status.yml over the inventory (a hosts.ini or the deployment directory) and judge the reports."""
    from gravity_cli.ansible_run import run_playbook

    progress = run_playbook(app, inventory, "status.yml")
    unreachable = [host for host, counts in progress.hosts.items() if counts["unreachable"] or host not in
                   progress.reports]  # fmt: skip
    return judge(progress.reports, unreachable)


def _cell(value: dict[str, Any] | None, text: str) -> str:
    if value is None:
        return "-"
    return text if value["ready"] else f"DOWN {text}".strip()


def print_health(app: Application, health: ClusterHealth) -> None:
    """One row per host, then the problems (if any)."""
    rows = []
    for host in health.hosts:
        node, pg, nats, valkey = host["node"], host["postgresql"], host["nats"], host["valkey"]
        leader = nats and (f"leader {nats['meta_leader']}" if nats["meta_leader"] else "no meta leader")
        lag = "" if pg is None or pg["lag"] is None else f" (lag {pg['lag']} B)"
        rows.append((
            host["host"],
            _cell(node, "ready" if node and node["ready"] else f"(status {node and node['status']})"),
            (node or {}).get("version") or "-",
            _cell(host["edge"], "ready" if host["edge"] and host["edge"]["ready"] else ""),
            _cell(pg, f"{pg['role']}{lag}" if pg else ""),
            _cell(nats, leader or ""),
            "-" if valkey is None else valkey["role"],
        ))  # fmt: skip
    app.print_table(["HOST", "NODE", "VERSION", "EDGE", "POSTGRESQL", "NATS", "VALKEY"], rows,
                    title="Deployment health")
    for problem in health.problems:
        app.print_text(f"  {problem}", style="bold red")
    if health.healthy:
        app.print_text("  every node and engine is healthy")
