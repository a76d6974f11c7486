"""A Gravity node hosting every installed service, configured only by ``GRAVITY_*`` environment variables.

Run by ``bench/run.py`` as ``python bench/node.py``; it is what ``gravity serve`` does (one uvicorn worker
serving the node app through ``gravity_platform.kernel.server.serve``), without depending on the CLI."""

from __future__ import annotations

from serving import run

from gravity_platform.kernel.server import serve
from gravity_platform.kernel.settings import GravitySettings


def main() -> None:
    run(serve(GravitySettings(), drain_delay=0))  # as the benchmark's `gravity serve --drain-delay 0`


if __name__ == "__main__":
    main()
