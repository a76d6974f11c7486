"""Benchmark: an authenticated ``GET /api/v1/users/me`` through a Gravity node's gateway, next to a bare
Litestar JSON handler measured in the same run.

    python bench/run.py [--duration 10] [--warmup 3] [--rounds 3] [--profile node.svg]

The whole server side (the node, PostgreSQL, NATS, Valkey, and the baseline app) runs on one CPU and wrk
(64 connections) on another. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2
from serving import LOOP_ENV, LOOPS

from gravity_platform.devstack import DevStack, ManagedProcess, StackEndpoints, StackPorts
from gravity_platform.kernel.crypto import MasterKey, generate_master_key_file
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.node import build_node
from gravity_platform.kernel.settings import GravitySettings

BENCH_DIR = Path(__file__).resolve().parent
REPORT_LUA = BENCH_DIR / "report.lua"
PATH = "/api/v1/users/me"
TARGET_RATIO = 0.50
TARGET_P95_MS = 50.0
UNLIMITED = str(10**9)

log = logging.getLogger("gravity.bench")


# ---------------------------------------------------------------------------------------------------------------
# CPU pinning


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields we need follow the last ')'.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    tree = _children_map()
    found: list[int] = []
    pending = list(tree.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(tree.get(child, []))
    return found


def _threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def pin_threads(pids: Iterable[int], cpu: int) -> tuple[int, int]:
    """Pin every thread of ``pids`` to ``cpu`` (affinity is per thread); return (processes, threads) pinned."""
    processes = threads = 0
    for pid in pids:
        tids = _threads(pid)
        for tid in tids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.sched_getaffinity(tid) != {cpu}:
                    os.sched_setaffinity(tid, {cpu})
                threads += 1
        processes += bool(tids)
    return processes, threads


def off_cpu(pids: Iterable[int], cpu: int) -> list[str]:
    """Threads of ``pids`` allowed on any CPU other than ``cpu``, described for an error message."""
    strays: list[str] = []
    for pid in pids:
        for tid in _threads(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                allowed = os.sched_getaffinity(tid)
                if allowed != {cpu}:
                    comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
                    strays.append(f"{comm} (pid {pid}, tid {tid}) on CPUs {sorted(allowed)}")
    return strays


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def client_preexec(cpu: int) -> Callable[[], None]:
    """For the load generator and the profiler: run on ``cpu`` and die with the benchmark."""

    def in_child() -> None:
        os.sched_setaffinity(0, {cpu})
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return in_child


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_ticks(pid: int) -> int:
    """User plus system CPU time of one process, in clock ticks (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def _cpu_line(cpu: int) -> tuple[int, int]:
    """(busy, total) clock ticks of one CPU since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + values[4]
            return sum(values) - idle, sum(values)
    raise BenchError(f"CPU {cpu} is missing from /proc/stat")


class CpuAccount:
    """Where one CPU's time goes during a measurement: each server-side process group (a process of the stack
    and its children), and everything else that ran there (other programs on the machine, interrupts)."""

    def __init__(self, groups: dict[str, int], cpu: int) -> None:
        self.groups = groups
        self.cpu = cpu
        self._start: tuple[dict[str, int], tuple[int, int]] | None = None

    def _snapshot(self) -> dict[str, int]:
        return {name: sum(_process_ticks(p) for p in (pid, *descendants(pid))) for name, pid in self.groups.items()}

    def pids(self) -> list[int]:
        """Every process of the groups now."""
        return [p for pid in self.groups.values() for p in (pid, *descendants(pid))]

    def start(self) -> None:
        self._start = (self._snapshot(), _cpu_line(self.cpu))

    def stop(self) -> dict[str, float]:
        """Shares of the CPU's time since :meth:`start`, by group, plus ``other`` and ``idle``."""
        assert self._start is not None
        before, (busy_before, total_before) = self._start
        after, (busy_after, total_after) = self._snapshot(), _cpu_line(self.cpu)
        total = max(1, total_after - total_before)
        shares = {name: (after[name] - before[name]) / total for name in self.groups}
        busy = (busy_after - busy_before) / total
        shares["other"] = max(0.0, busy - sum(shares.values()))
        shares["idle"] = max(0.0, 1 - busy)
        return {name: round(share, 3) for name, share in shares.items()}


# ---------------------------------------------------------------------------------------------------------------
# Measurements


@dataclass(frozen=True)
class Measurement:
    """One wrk run."""

    name: str
    requests: int
    duration_s: float
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    cpu: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_wrk(cls, name: str, data: dict[str, float], cpu: dict[str, float]) -> Measurement:
        duration = data["duration_us"] / 1e6
        return cls(
            name=name, requests=int(data["requests"]), duration_s=round(duration, 3),
            requests_per_s=round(data["requests"] / duration, 1),
            p50_ms=data["p50_us"] / 1000, p75_ms=data["p75_us"] / 1000, p90_ms=data["p90_us"] / 1000,
            p95_ms=data["p95_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
            non_2xx=int(data["status_errors"]),
            socket_errors=int(data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"]),
            cpu=cpu,
        )

    def line(self) -> str:
        flags = []
        if self.non_2xx:
            flags.append(f"{self.non_2xx} non-2xx")
        if self.socket_errors:
            flags.append(f"{self.socket_errors} socket errors")
        note = f"   ({', '.join(flags)})" if flags else ""
        return (f"  {self.name:<34} {self.requests_per_s:>10,.0f} req/s   p50 {self.p50_ms:7.2f} ms   "
                f"p95 {self.p95_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms{note}")

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of server-side CPU time: throughput corrected for whatever else ran on the CPU."""
        used = sum(share for name, share in self.cpu.items() if name not in ("other", "idle"))
        return self.requests_per_s / used if used > 0 else 0.0

    def cpu_line(self, cpu: int) -> str:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in self.cpu.items() if share >= 0.005)
        return f"  {'':<34} CPU {cpu}: {shares}; {self.per_cpu_second:,.0f} requests per server CPU-second"


@dataclass
class Round:
    """The baseline and the Gravity figures of one round."""

    bare: Measurement
    gravity: Measurement

    @property
    def ratio(self) -> float:
        return self.gravity.requests_per_s / self.bare.requests_per_s

    @property
    def cpu_ratio(self) -> float:
        """The ratio of requests per server CPU-second (less sensitive to other load on the machine)."""
        return self.gravity.per_cpu_second / self.bare.per_cpu_second if self.bare.per_cpu_second else 0.0


@dataclass
class Options:
    duration: int
    warmup: int
    connections: int
    threads: int
    rounds: int
    server_cpu: int
    client_cpu: int
    loop: str | None
    node: str
    timeout: int
    profile: Path | None
    profile_format: str
    profile_native: bool
    json_path: Path | None
    keep: bool
    check: bool
    node_env: dict[str, str] = field(default_factory=dict)


class BenchError(RuntimeError):
    """The benchmark could not run (not: the platform missed its target)."""


class Wrk:
    """Runs wrk on the client CPU and parses the JSON line ``report.lua`` prints."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.binary = shutil.which("wrk")
        if self.binary is None:
            raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get update && apt-get install -y wrk)")

    async def run(self, url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, float]:
        assert self.binary is not None
        argv = [self.binary, f"-t{self.options.threads}", f"-c{self.options.connections}", f"-d{seconds}s",
                "--latency", f"--timeout={self.options.timeout}s", "-s", str(REPORT_LUA)]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=client_preexec(self.options.client_cpu),
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=seconds + self.options.timeout + 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        text = stdout.decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("BENCH_JSON "):
                data: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
                return data
        raise BenchError(f"wrk failed (exit {process.returncode}): {stderr.decode(errors='replace')}{text}")


# ---------------------------------------------------------------------------------------------------------------
# The stack, the node and the baseline


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def node_environment(endpoints: StackEndpoints, key_file: Path, port: int, root: Path,
                     extra: dict[str, str]) -> dict[str, str]:
    """The ``GRAVITY_*`` settings of the node under test (limits high enough never to trigger)."""
    return {
        **endpoints.as_env(),
        "GRAVITY_MASTER_KEY_FILE": str(key_file),
        "GRAVITY_PROJECT_DIR": str(root),
        "GRAVITY_CONFIG": str(root / "gravity.toml"),  # empty: no stray gravity.toml from the caller's folder
        "GRAVITY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GRAVITY_GATEWAY__HOST": "127.0.0.1",
        "GRAVITY_GATEWAY__PORT": str(port),
        "GRAVITY_GATEWAY__RATE_LIMIT_PER_MINUTE": UNLIMITED,
        "GRAVITY_GATEWAY__ANONYMOUS_RATE_LIMIT_PER_MINUTE": UNLIMITED,
        "GRAVITY_LOG_LEVEL": "warning",
        **extra,
    }


async def wait_http(url: str, process: ManagedProcess, within: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + within
    async with httpx2.AsyncClient(timeout=2.0, trust_env=False) as http:
        while True:
            if not process.running:
                raise BenchError(f"{process.name} exited with {process.returncode}; see {process.log_path}")
            with contextlib.suppress(httpx2.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"{url} did not answer 200 within {within:.0f} s; see {process.log_path}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_stack(root: Path, options: Options) -> AsyncIterator[tuple[DevStack, str, str]]:
    """The embedded stack, a migrated node hosting every service, and the baseline app, all on the server CPU.

    Yields the stack, the node's URL and the baseline's URL; everything is stopped on the way out."""
    stack = DevStack(root / "stack", ports=StackPorts.free(), durable=False)
    try:
        began = time.perf_counter()
        endpoints = await stack.start()
        key_file = root / "secrets" / "master.key"
        generate_master_key_file(key_file)
        node_port, bare_port = free_port(), free_port()
        (root / "gravity.toml").write_text("# the benchmark's node takes its settings from GRAVITY_* variables\n")
        env = node_environment(endpoints, key_file, node_port, root, options.node_env)
        os.environ.update(env)  # the migration reads exactly the node's settings
        settings = GravitySettings()
        master_key = MasterKey.from_file(key_file)
        planned = build_node(settings, master_key=master_key)
        try:
            await migrate(settings.database.url, planned.services, master_key)
        finally:
            await planned.valkey.aclose()
        common = {"PYTHONPATH": _pythonpath()}
        if options.node == "cli":
            argv = [sys.executable, "-m", "gravity_cli", "serve", "--port", str(node_port), "--drain-delay", "0"]
            node = await stack.spawn("node", argv, env={**env, **common})
        else:
            argv = [sys.executable, str(BENCH_DIR / "node.py")]
            node = await stack.spawn("node", argv, env={**env, **common, LOOP_ENV: options.loop or "asyncio"})
        node_url, bare_url = f"http://127.0.0.1:{node_port}", f"http://127.0.0.1:{bare_port}"
        await wait_http(f"{node_url}/readyz", node)
        # The baseline runs on the event loop the node actually runs on.
        options.loop = "uvloop" if _uses_uvloop(node.pid) else "asyncio"
        argv = [sys.executable, str(BENCH_DIR / "bare_app.py"), str(bare_port)]
        bare = await stack.spawn("bare", argv, env={**common, LOOP_ENV: options.loop})
        await wait_http(f"{bare_url}/healthz", bare)
        print(f"stack, node (python {' '.join(node_argv(options))}, hosting "
              f"{', '.join(s.name for s in planned.services)}) and baseline up in {time.perf_counter() - began:.1f} s;"
              f" logs in {stack.paths.log('node').parent}", flush=True)
        yield stack, node_url, bare_url
    finally:
        await stack.stop()


def node_argv(options: Options) -> list[str]:
    """How the node is started, for the report."""
    return ["-m", "gravity_cli", "serve"] if options.node == "cli" else ["bench/node.py"]


def _uses_uvloop(pid: int) -> bool:
    """Whether uvloop's extension is loaded in ``pid`` (the node then runs on it)."""
    try:
        return "uvloop" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _pythonpath() -> str:
    """bench/ first (for ``serving``), then whatever the caller had."""
    return os.pathsep.join(filter(None, (str(BENCH_DIR), os.environ.get("PYTHONPATH"))))


# ---------------------------------------------------------------------------------------------------------------
# The benchmarked user


class BenchUser:
    """A registered user of the node under test, signed in with the password grant."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.email = f"bench-{secrets.token_hex(6)}@example.com"
        self.password = secrets.token_urlsafe(18)
        self.token = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def register(self) -> None:
        answer = await self.http.post("/api/v1/auth/register", json={"email": self.email, "password": self.password})
        _expect(answer, 201, "registration")

    async def sign_in(self) -> None:
        """A fresh access token (each measurement gets one, so none expires mid-run)."""
        answer = await self.http.post("/oauth2/token", data={
            "grant_type": "password", "username": self.email, "password": self.password})
        _expect(answer, 200, "password grant")
        self.token = str(answer.json()["access_token"])

    async def rename_and_verify(self) -> str:
        """PATCH the display name, then check a GET with the benchmarked token reflects it."""
        name = f"bench {secrets.token_hex(4)}"
        patched = await self.http.patch(PATH, json={"display_name": name}, headers=self.headers)
        _expect(patched, 200, "PATCH /api/v1/users/me")
        await self.verify(name)
        return name

    async def verify(self, name: str) -> None:
        answer = await self.http.get(PATH, headers=self.headers)
        _expect(answer, 200, "GET /api/v1/users/me")
        if answer.json().get("display_name") != name or answer.json().get("email") != self.email:
            raise BenchError(f"GET /api/v1/users/me does not reflect the PATCH made before it: {answer.text}")


    async def log_out_and_verify(self) -> None:
        """Log out and check the benchmarked token is refused at once (the deny-list is consulted per request)."""
        _expect(await self.http.post("/api/v1/auth/logout", headers=self.headers), 204, "logout")
        answer = await self.http.get(PATH, headers=self.headers)
        if answer.status_code != 401:
            raise BenchError(f"GET /api/v1/users/me with a logged-out token answered {answer.status_code}, not 401")


def _expect(answer: httpx2.Response, status: int, what: str) -> None:
    if answer.status_code != status:
        raise BenchError(f"{what} answered {answer.status_code}, expected {status}: {answer.text[:500]}")


# ---------------------------------------------------------------------------------------------------------------
# The run


async def benchmark(options: Options, root: Path) -> list[Round]:
    wrk = Wrk(options)
    me = os.getpid()
    rounds: list[Round] = []
    async with running_stack(root, options) as (stack, node_url, bare_url):
        processes, threads = pin_threads(descendants(me), options.server_cpu)
        # The driver only waits while wrk runs; keep it off the server CPU as well.
        pin_threads([me], options.client_cpu)
        print(f"server side pinned to CPU {options.server_cpu} ({processes} processes, {threads} threads); "
              f"wrk on CPU {options.client_cpu}; event loop {options.loop}", flush=True)
        groups = {name: process.pid for name, process in stack.processes.items()}
        account = CpuAccount(groups, options.server_cpu)
        async with httpx2.AsyncClient(base_url=node_url, timeout=30.0, trust_env=False) as http:
            user = BenchUser(http)
            await user.register()
            for number in range(1, options.rounds + 1):
                print(f"round {number}/{options.rounds}: warm-up {options.warmup} s, then {options.duration} s "
                      f"each, {options.connections} connections, {options.threads} wrk thread(s)", flush=True)
                await wrk.run(f"{bare_url}{PATH}", options.warmup)
                bare = await measure(wrk, options, account, "bare Litestar JSON handler", f"{bare_url}{PATH}", None)
                await user.sign_in()
                await wrk.run(f"{node_url}{PATH}", options.warmup, user.headers)
                name = await user.rename_and_verify()
                profiler = await start_profiler(options, groups["node"])
                try:
                    gravity = await measure(wrk, options, account, "Gravity GET /api/v1/users/me",
                                            f"{node_url}{PATH}", user.headers)
                finally:
                    await stop_profiler(profiler, options)
                await user.verify(name)
                await user.log_out_and_verify()
                rounds.append(Round(bare, gravity))
                print(bare.line(), bare.cpu_line(options.server_cpu), gravity.line(),
                      gravity.cpu_line(options.server_cpu), f"  ratio {rounds[-1].ratio:.1%} (per server CPU-second "
                      f"{rounds[-1].cpu_ratio:.1%})",
                      sep="\n", flush=True)
    return rounds


async def measure(wrk: Wrk, options: Options, account: CpuAccount, name: str, url: str,
                  headers: dict[str, str] | None) -> Measurement:
    # Processes and threads started since (PostgreSQL backends, thread pools) inherit the server CPU; make sure.
    pin_threads(account.pids(), options.server_cpu)
    account.start()
    result = await wrk.run(url, options.duration, headers)
    cpu = account.stop()
    strays = off_cpu(account.pids(), options.server_cpu)
    if strays:
        raise BenchError("server-side threads ran outside the server CPU: " + "; ".join(strays))
    return Measurement.from_wrk(name, result, cpu)


async def start_profiler(options: Options, node_pid: int) -> asyncio.subprocess.Process | None:
    """py-spy on the node for the Gravity measurement, on the client CPU (``--profile``)."""
    if options.profile is None:
        return None
    binary = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if binary is None:
        raise BenchError("--profile needs py-spy (pip install py-spy)")
    argv = [binary, "record", "--pid", str(node_pid), "--rate", "200", "--duration", str(options.duration),
            "--format", options.profile_format, "--output", str(options.profile)]
    # Native frames need py-spy to pause the node for each sample, which lowers the figures measured with it.
    argv.append("--native" if options.profile_native else "--nonblocking")
    return await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE,
                                                preexec_fn=client_preexec(options.client_cpu))


async def stop_profiler(process: asyncio.subprocess.Process | None, options: Options) -> None:
    if process is None:
        return
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        print(f"py-spy failed: {stderr.decode(errors='replace')[-500:]}", file=sys.stderr)
    else:
        print(f"  profile of the node written to {options.profile}", flush=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def summarize(rounds: list[Round], options: Options) -> bool:
    """Print the figures (the median round when there are several); return whether the targets are met."""
    ratio = statistics.median(r.ratio for r in rounds)
    p95 = statistics.median(r.gravity.p95_ms for r in rounds)
    bare_rps = statistics.median(r.bare.requests_per_s for r in rounds)
    gravity_rps = statistics.median(r.gravity.requests_per_s for r in rounds)
    cpu_ratio = statistics.median(r.cpu_ratio for r in rounds)
    other = max(max(r.bare.cpu.get("other", 0.0), r.gravity.cpu.get("other", 0.0)) for r in rounds)
    clean = all(r.gravity.non_2xx == r.bare.non_2xx == 0 and not r.gravity.socket_errors for r in rounds)
    ratio_ok, p95_ok = ratio >= TARGET_RATIO, p95 < TARGET_P95_MS
    label = "median of rounds" if len(rounds) > 1 else "result"
    print(f"\n{label}: {options.connections} connections, {options.duration} s per measurement, server side on "
          f"CPU {options.server_cpu}, wrk on CPU {options.client_cpu}")
    print(f"  bare Litestar handler            {bare_rps:>10,.0f} req/s")
    print(f"  Gravity GET /api/v1/users/me     {gravity_rps:>10,.0f} req/s   p95 {p95:.2f} ms")
    print(f"  throughput ratio (Gravity/bare)  {ratio:>10.1%}   target >= {TARGET_RATIO:.0%}: "
          f"{'met' if ratio_ok else 'MISSED'}")
    print(f"  Gravity p95                      {p95:>8.2f} ms   target < {TARGET_P95_MS:.0f} ms: "
          f"{'met' if p95_ok else 'MISSED'}")
    print(f"  ratio per server CPU-second      {cpu_ratio:>10.1%}   (throughput each side got per second of CPU "
          f"{options.server_cpu} it used)")
    if other >= 0.05:
        print(f"  NOTE: other programs took up to {other:.0%} of CPU {options.server_cpu} during a measurement; "
              "the raw figures are noisy, compare the per-CPU-second ratio")
    if not clean:
        print("  WARNING: some requests failed (non-2xx or socket errors); the figures do not describe successful "
              "requests")
    if options.json_path is not None:
        options.json_path.write_text(json.dumps({
            "rounds": [{"bare": asdict(r.bare), "gravity": asdict(r.gravity), "ratio": r.ratio,
                        "cpu_ratio": r.cpu_ratio} for r in rounds],
            "median": {"bare_rps": bare_rps, "gravity_rps": gravity_rps, "ratio": ratio, "gravity_p95_ms": p95,
                       "cpu_ratio": cpu_ratio},
            "targets": {"ratio": TARGET_RATIO, "p95_ms": TARGET_P95_MS, "met": ratio_ok and p95_ok and clean},
            "settings": {k: str(v) for k, v in asdict(options).items()},
        }, indent=2) + "\n")
    return ratio_ok and p95_ok and clean


# ---------------------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each (default 3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: it has one CPU)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="baseline+Gravity pairs; the median is reported (default 3)")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU of the whole server side (default 0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU of wrk (default 1)")
    parser.add_argument("--node", choices=("cli", "runner"), default=None,
                        help="start the node with `python -m gravity_cli serve` (default when the CLI has it) or "
                             "with bench/node.py, which calls gravity_platform.kernel.server.serve")
    parser.add_argument("--loop", choices=LOOPS, default=None,
                        help="event loop of the node with --node runner (default asyncio, as `gravity serve`); the "
                             "baseline always runs on the node's loop")
    parser.add_argument("--timeout", type=int, default=5, help="wrk request timeout in seconds (default 5)")
    parser.add_argument("--profile", type=Path, help="record the node with py-spy during the Gravity measurement")
    parser.add_argument("--profile-format", choices=("flamegraph", "speedscope", "raw"), default="flamegraph")
    parser.add_argument("--profile-native", action="store_true",
                        help="include C frames in the profile (py-spy then pauses the node for each sample)")
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--node-env", action="append", default=[], metavar="GRAVITY_X=VALUE",
                        help="extra setting for the node (repeatable), e.g. GRAVITY_DATABASE__POOL_MAX=8")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stack folder (logs) afterwards")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    node_env: dict[str, str] = {}
    for item in args.node_env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("GRAVITY_"):
            parser.error(f"--node-env expects GRAVITY_NAME=VALUE, got {item!r}")
        node_env[name] = value
    available = os.sched_getaffinity(0)
    for cpu in (args.server_cpu, args.client_cpu):
        if cpu not in available:
            parser.error(f"CPU {cpu} is not available to this process (have {sorted(available)})")
    if args.server_cpu == args.client_cpu:
        parser.error("--server-cpu and --client-cpu must differ")
    if min(args.duration, args.warmup, args.connections, args.threads, args.rounds) < 1:
        parser.error("durations, connections, threads and rounds must be at least 1")
    if args.threads > args.connections:
        parser.error("wrk needs at least one connection per thread")
    cli_serves = importlib.util.find_spec("gravity_cli") is not None and \
        importlib.util.find_spec("gravity_cli.commands.serve") is not None
    node = args.node or ("cli" if cli_serves else "runner")
    if node == "cli" and not cli_serves:
        parser.error("this checkout's CLI has no `gravity serve`; use --node runner")
    if node == "cli" and args.loop:
        parser.error("--loop needs --node runner (`gravity serve` picks its own event loop)")
    return Options(
        duration=args.duration, warmup=args.warmup, connections=args.connections, threads=args.threads,
        rounds=args.rounds, server_cpu=args.server_cpu, client_cpu=args.client_cpu, loop=args.loop, node=node,
        timeout=args.timeout, profile=args.profile.resolve() if args.profile else None,
        profile_format=args.profile_format, profile_native=args.profile_native, json_path=args.json_path,
        keep=args.keep, check=args.check,
        node_env=node_env,
    )


async def _main(options: Options, root: Path) -> list[Round]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await benchmark(options, root)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # Ctrl-C cancels the run and tears everything down, even when started with SIGINT ignored (e.g. `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Every process started from here on (the stack's servers, the node, the baseline) inherits this CPU.
    os.sched_setaffinity(0, {options.server_cpu})
    for name in [name for name in os.environ if name.startswith("GRAVITY_")]:
        del os.environ[name]  # only the settings this script chooses reach the node
    root = Path(tempfile.mkdtemp(prefix="gravity-bench-"))
    failed = False
    try:
        rounds = asyncio.run(_main(options, root))
    except BenchError as error:
        failed = True
        print(f"bench failed: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench interrupted", file=sys.stderr)
        return 130
    except BaseException:
        failed = True
        raise
    finally:
        leftovers = [pid for pid in descendants(os.getpid()) if _cmdline(pid)]
        if leftovers:
            print(f"WARNING: processes left running: {leftovers}", file=sys.stderr)
        if options.keep or failed:
            print(f"stack folder kept: {root} (logs under {root / 'stack' / 'logs'})", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    met = summarize(rounds, options)
    return 1 if options.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
