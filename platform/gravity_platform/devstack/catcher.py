"""The dev mail catcher: an SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message in a :class:`Mailbox`
instead of delivering it. The dev stack runs it as its server ``mail`` (:class:`~.servers.MailCatcherServer`)::

    python -m gravity_platform.devstack.catcher --port 51025 --dir .gravity/data/mail
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .endpoints import HOST
from .mailbox import Mailbox

logger = logging.getLogger("gravity.devstack.catcher")

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


class CatchingHandler:
    """aiosmtpd handler: accept every recipient and store each message."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        data: bytes = envelope.original_content or envelope.content
        try:
            message_id = await asyncio.to_thread(self.mailbox.deliver, envelope.mail_from or "",
                                                 list(envelope.rcpt_tos), data)
        except OSError as error:
            logger.error("could not store a message: %s", error)
            return "451 Requested action aborted: could not store the message"
        logger.info("caught %s for %s", message_id, ", ".join(envelope.rcpt_tos))
        return f"250 Message accepted as {message_id}"


async def serve(port: int, folder: Path) -> None:
    """Serve SMTP on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    from aiosmtpd.smtp import SMTP

    handler = CatchingHandler(Mailbox(folder))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="localhost", ident="Gravity dev mail catcher", enable_SMTPUTF8=True,
                     data_size_limit=MAX_MESSAGE_BYTES, timeout=60),
        host=HOST, port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logger.info("mail catcher listening on %s:%d, storing in %s", HOST, port, folder)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the catcher process."""
    parser = argparse.ArgumentParser(prog="python -m gravity_platform.devstack.catcher", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="where caught messages are stored")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(args.port, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
