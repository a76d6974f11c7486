"""Gravity's backup tool on the backup repository host: pgBackRest backups plus NATS JetStream stream snapshots.

Installed by the gravity.platform.backup role into its own venv (nats-py from the deployment's wheelhouse) and
run as the postgres user (the owner of the pgBackRest repository)::

    gravity-backup backup --type full|diff|incr   a pgBackRest backup, then a NATS snapshot tagged with its label
    gravity-backup snapshot                        a NATS snapshot of the streams (the hourly timer)
    gravity-backup info                            pgBackRest's backups and the NATS snapshots, as JSON
    gravity-backup restore-nats [--label L | --time ISO] [--replicas N]
                                                   recreate the streams from the matching snapshot

Streams are saved through JetStream's own snapshot API ($JS.API.STREAM.SNAPSHOT.<stream>), never by copying a
live store directory, and restored through $JS.API.STREAM.RESTORE.<stream>. Each snapshot is a directory named
by its UTC time holding <stream>.snapshot (the server's archive), <stream>.json (config and state) and meta.json.
Every command prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats

CONFIG = Path("/etc/gravity-backup/config.json")
CHUNK = 128 * 1024
TIMEOUT = 60.0


def load_config() -> dict[str, Any]:
    """The tool's settings (written by the role, readable by root and postgres only: it holds a password)."""
    config: dict[str, Any] = json.loads(CONFIG.read_text())
    return config


def pgbackrest(config: dict[str, Any], *args: str) -> str:
    """Run pgBackRest for the stanza; return its stdout, raise with its stderr on failure."""
    command = ["pgbackrest", f"--stanza={config['stanza']}", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


def pg_backups(config: dict[str, Any]) -> list[dict[str, Any]]:
    """pgBackRest's backups, oldest first."""
    info = json.loads(pgbackrest(config, "--output=json", "info"))
    return [backup for stanza in info for backup in stanza.get("backup", [])]


async def connect(config: dict[str, Any]) -> Any:
    """A NATS connection as the application user, over TLS verified against the internal CA."""
    nats_config = config["nats"]
    context = ssl.create_default_context(cafile=nats_config["ca_file"])
    return await nats.connect(
        servers=nats_config["servers"],
        user=nats_config["user"],
        password=nats_config["password"],
        tls=context,
        connect_timeout=10,
        max_reconnect_attempts=3,
        allow_reconnect=True,
    )


async def api(nc: Any, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JetStream API request; raise on an error reply."""
    reply = await nc.request(subject, json.dumps(body or {}).encode(), timeout=TIMEOUT)
    data: dict[str, Any] = json.loads(reply.data or b"{}")
    if "error" in data:
        raise RuntimeError(f"{subject}: {data['error'].get('description', data['error'])}")
    return data


async def stream_names(nc: Any, prefix: str) -> list[str]:
    """The account's streams whose names start with ``prefix``."""
    names: list[str] = []
    while True:
        page = await api(nc, "$JS.API.STREAM.NAMES", {"offset": len(names)})
        names += page.get("streams") or []
        if not page.get("streams") or len(names) >= page.get("total", 0):
            break
    return sorted(name for name in names if name.startswith(prefix))


async def snapshot_stream(nc: Any, name: str, target: Path) -> dict[str, Any]:
    """Save one stream through the snapshot API, acknowledging every chunk (the server's flow control)."""
    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox)
    try:
        described = await api(nc, f"$JS.API.STREAM.SNAPSHOT.{name}", {"deliver_subject": inbox, "chunk_size": CHUNK})
        size = 0
        with (target / f"{name}.snapshot").open("wb") as out:
            while True:
                message = await subscription.next_msg(timeout=TIMEOUT)
                if not message.data:
                    status = (message.headers or {}).get("Status", "")
                    if status and status not in ("200", "204"):
                        raise RuntimeError(f"snapshot of {name} ended with status {status} {message.headers}")
                    break
                out.write(message.data)
                size += len(message.data)
                if message.reply:
                    await nc.publish(message.reply, b"")
    finally:
        await subscription.unsubscribe()
    record = {"name": name, "config": described["config"], "state": described["state"], "bytes": size}
    (target / f"{name}.json").write_text(json.dumps(record, indent=2))
    return {"name": name, "messages": described["state"].get("messages", 0), "bytes": size}


async def take_snapshot(config: dict[str, Any], label: str | None) -> dict[str, Any]:
    """Snapshot every matching stream into a new directory named by the UTC time; prune old snapshots."""
    now = dt.datetime.now(dt.UTC)
    root = Path(config["nats_dir"])
    target = root / now.strftime("%Y%m%dT%H%M%SZ")
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=False)
    nc = await connect(config)
    try:
        streams = [await snapshot_stream(nc, name, partial) for name in await stream_names(nc, config["prefix"])]
    finally:
        await nc.drain()
    meta = {"name": target.name, "time": now.isoformat(), "label": label, "streams": streams}
    (partial / "meta.json").write_text(json.dumps(meta, indent=2))
    partial.rename(target)
    prune(root, int(config["retention_days"]), now)
    return meta


def snapshots(root: Path) -> list[dict[str, Any]]:
    """The complete NATS snapshots, oldest first."""
    found = []
    for meta in sorted(root.glob("*/meta.json")):
        found.append(json.loads(meta.read_text()))
    return found


def prune(root: Path, retention_days: int, now: dt.datetime) -> None:
    """Drop snapshots older than the retention (always keeping the newest) and interrupted ones."""
    for partial in root.glob("*.partial"):
        if partial.stat().st_mtime < now.timestamp() - 3600:
            shutil.rmtree(partial, ignore_errors=True)
    complete = snapshots(root)
    cutoff = now - dt.timedelta(days=retention_days)
    for meta in complete[:-1]:
        if dt.datetime.fromisoformat(meta["time"]) < cutoff:
            shutil.rmtree(root / meta["name"], ignore_errors=True)


def choose(root: Path, label: str | None, time: str | None) -> dict[str, Any]:
    """The snapshot taken with backup ``label``, else the newest at or before ``time``, else the newest."""
    complete = snapshots(root)
    if label:
        matching = [meta for meta in complete if meta.get("label") == label]
    elif time:
        limit = dt.datetime.fromisoformat(time.replace("Z", "+00:00"))
        if limit.tzinfo is None:
            limit = limit.replace(tzinfo=dt.UTC)
        matching = [meta for meta in complete if dt.datetime.fromisoformat(meta["time"]) <= limit]
    else:
        matching = complete
    if not matching:
        raise SystemExit(f"no NATS snapshot matches (label={label}, time={time}) in {root}")
    return matching[-1]


async def restore_stream(nc: Any, source: Path, name: str, replicas: int | None) -> dict[str, Any]:
    """Replace the stream ``name`` with its snapshot in ``source``."""
    record = json.loads((source / f"{name}.json").read_text())
    config = record["config"]
    if replicas:
        config["num_replicas"] = min(int(config.get("num_replicas", 1)), replicas) or 1
    try:
        await api(nc, f"$JS.API.STREAM.DELETE.{name}")
    except RuntimeError as exc:
        if "not found" not in str(exc):
            raise
    started = await api(nc, f"$JS.API.STREAM.RESTORE.{name}", {"config": config, "state": record["state"]})
    with (source / f"{name}.snapshot").open("rb") as archive:
        while chunk := archive.read(CHUNK):
            reply = await nc.request(started["deliver_subject"], chunk, timeout=TIMEOUT)
            if reply.data and b'"error"' in reply.data:
                raise RuntimeError(f"restore of {name}: {reply.data.decode()}")
    final = await nc.request(started["deliver_subject"], b"", timeout=TIMEOUT * 4)
    result = json.loads(final.data or b"{}")
    if "error" in result:
        raise RuntimeError(f"restore of {name}: {result['error']}")
    return {"name": name, "messages": result.get("state", {}).get("messages")}


async def restore(config: dict[str, Any], label: str | None, time: str | None, replicas: int | None) -> dict[str, Any]:
    """Recreate every stream of the chosen snapshot."""
    root = Path(config["nats_dir"])
    meta = choose(root, label, time)
    nc = await connect(config)
    try:
        source = root / meta["name"]
        streams = [await restore_stream(nc, source, stream["name"], replicas) for stream in meta["streams"]]
    finally:
        await nc.drain()
    return {"snapshot": meta["name"], "label": meta.get("label"), "streams": streams}


def backup(config: dict[str, Any], kind: str) -> dict[str, Any]:
    """A pgBackRest backup (which also expires what the retention allows), then a NATS snapshot with its label."""
    pgbackrest(config, f"--type={kind}", "backup")
    newest = pg_backups(config)[-1]
    snapshot = asyncio.run(take_snapshot(config, newest["label"]))
    return {
        "label": newest["label"],
        "type": newest["type"],
        "nats_snapshot": snapshot["name"],
        "streams": snapshot["streams"],
    }


def info(config: dict[str, Any]) -> dict[str, Any]:
    """The backups: pgBackRest's (label, type, times, sizes) and the NATS snapshots."""
    pg = [
        {
            "label": b["label"],
            "type": b["type"],
            "start": b["timestamp"]["start"],
            "stop": b["timestamp"]["stop"],
            "size": b["info"]["size"],
            "repository_size": b["info"]["repository"]["delta"],
            "wal_start": b["archive"]["start"],
            "wal_stop": b["archive"]["stop"],
        }
        for b in pg_backups(config)
    ]
    return {"stanza": config["stanza"], "postgresql": pg, "nats": snapshots(Path(config["nats_dir"]))}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run one command, print its JSON result."""
    parser = argparse.ArgumentParser(prog="gravity-backup", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("backup")
    take.add_argument("--type", choices=("full", "diff", "incr"), default="diff")
    commands.add_parser("snapshot")
    commands.add_parser("info")
    back = commands.add_parser("restore-nats")
    back.add_argument("--label")
    back.add_argument("--time")
    back.add_argument("--replicas", type=int)
    args = parser.parse_args(argv)
    config = load_config()
    if args.command == "backup":
        result = backup(config, args.type)
    elif args.command == "snapshot":
        result = asyncio.run(take_snapshot(config, None))
    elif args.command == "info":
        result = info(config)
    else:
        result = asyncio.run(restore(config, args.label, args.time, args.replicas))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
