"""Real S3-compatible servers for the tests, run from their PyPI wheels: moto's server and SeaweedFS.

Each runs as a child process in its own process group on free loopback ports, is waited for until it answers
signed S3 calls, and is stopped (group and all) when the session ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

BIN = Path(sys.executable).parent
READY_TIMEOUT = 90.0


@dataclass(frozen=True)
class S3Server:
    """Where a running S3 server answers, and the identity it accepts."""

    name: str
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def options(self, bucket: str, **extra: object) -> dict[str, object]:
        """Storage options (as an operator would write them) for `bucket` on this server."""
        return {"endpoint_url": self.endpoint_url, "region": self.region, "bucket": bucket,
                "access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key, **extra}

    def client(self) -> Any:
        """A plain (synchronous) boto3 client, for checks made beside the backend under test."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
                            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that were free a moment ago."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds (the data is thrown away)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_until_serving(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll with a signed write until the server stores objects (SeaweedFS needs its volume server up too)."""
    client = server.client()
    deadline = time.monotonic() + READY_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with contextlib.suppress(ClientError):
                client.create_bucket(Bucket="ready-probe")
            client.put_object(Bucket="ready-probe", Key="probe", Body=b"ok")
            client.delete_object(Bucket="ready-probe", Key="probe")
            return
        except (BotoCoreError, ClientError) as error:
            last = error
            time.sleep(0.3)
    raise RuntimeError(f"{server.name} did not serve within {READY_TIMEOUT}s: {last}; {log.read_text()[-2000:]}")


@contextlib.contextmanager
def _running(server: S3Server, command: list[str], folder: Path, grace: float = 5.0) -> Iterator[S3Server]:
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_serving(server, process, log)
        yield server
    finally:
        _stop(process, grace)


@contextlib.contextmanager
def moto_server(folder: Path) -> Iterator[S3Server]:
    """moto's S3 server (it accepts any credentials)."""
    port = free_ports(1)[0]
    server = S3Server("moto", f"http://127.0.0.1:{port}", "moto-key", "moto-secret")
    with _running(server, [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], folder):
        yield server


@contextlib.contextmanager
def seaweedfs_server(folder: Path) -> Iterator[S3Server]:
    """`weed server` with its S3 gateway; requests must be signed by the one identity in its S3 config."""
    master, volume, filer, s3, *grpc = free_ports(8)
    server = S3Server("seaweedfs", f"http://127.0.0.1:{s3}", "gravity-test-key", "gravity-test-secret-0123456789")
    identities = {"identities": [{
        "name": "gravity",
        "credentials": [{"accessKey": server.access_key_id, "secretKey": server.secret_access_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    (folder / "s3.json").write_text(json.dumps(identities))
    (folder / "data").mkdir()
    command = [
        str(BIN / "weed"), "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={grpc[0]}", "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={grpc[1]}", "-volume.preStopSeconds=0", "-volume.max=0",
        f"-filer.port={filer}", f"-filer.port.grpc={grpc[2]}", f"-filer.localSocket={folder / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={grpc[3]}", f"-s3.localSocket={folder / 's3.sock'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={folder / 's3.json'}",
    ]
    try:
        # Its filer waits 15 s for gRPC streams to end on SIGTERM: not worth waiting for with throwaway data.
        with _running(server, command, folder, grace=1.0):
            yield server
    finally:
        # The gRPC unix sockets have fixed places named after their ports, which were picked above for this server.
        for role, port in zip(("master", "volume", "filer", "s3"), grpc, strict=True):
            Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock").unlink(missing_ok=True)  # noqa: S108
