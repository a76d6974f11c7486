"""``gravity files``: upload, download, list and delete your files through the API (after ``gravity login``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gravity_cli import credentials
from gravity_cli.application import human_size
from gravity_cli.commands import app_of
from gravity_cli.errors import CLIError

if TYPE_CHECKING:
    from gravity_cli.application import Application
    from gravity_sdk.types import File

cli = typer.Typer(name="files", help="Upload, download, list and delete files.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ProgressCallback = Callable[[int, "int | None"], None]


def _as_dict(file: File) -> dict[str, Any]:
    import msgspec

    data: dict[str, Any] = msgspec.to_builtins(file)
    return data


@contextmanager
def _progress(app: Application, description: str) -> Iterator[ProgressCallback | None]:
    """A Rich progress bar on stderr (nothing when stderr is not a terminal or with -q)."""
    if app.verbosity < 0 or not app.console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=app.console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@cli.command()
def upload(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The file to upload.", exists=True, dir_okay=False, readable=True)],
    name: Annotated[str | None, typer.Option("--name", help="Name to store (default: the file's).",
                                             show_default=False)] = None,
    content_type: Annotated[str | None, typer.Option("--type", help="Media type hint (the server also looks at "
                                                                    "the bytes).", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Upload a file (streamed, with a progress bar); prints its ID."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client, _progress(app, f"Uploading {path.name}") as progress:
        stored = client.files.upload(path, name=name, content_type=content_type, progress=progress, timeout=None)
    if app.wants_json(json_output):
        app.print_json(_as_dict(stored))
        return
    app.print_text(stored.id)
    app.success(f"Uploaded {stored.name} ({human_size(stored.size)}, {stored.content_type}, sha256 {stored.sha256})")


@cli.command()
def download(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument(metavar="FILE_ID", help="The file's ID.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write it (default: its name, "
                                                "in the current folder).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing file.")] = False,
) -> None:
    """Download a file (streamed, checked against its SHA-256)."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        info = client.files.get(file_id)
        target = output or Path(Path(info.name).name or info.id)
        if target.is_dir():
            target = target / (Path(info.name).name or info.id)
        if target.exists() and not force:
            raise CLIError(f"{target} exists; pass --force to overwrite it")
        with _progress(app, f"Downloading {info.name}") as progress:
            written = client.files.download(file_id, to=target, progress=progress, timeout=None)
    app.success(f"Saved {target} ({human_size(written)})")


@cli.command("ls")
def list_files(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000, help="At most this many.")] = 100,
    json_output: JsonOption = False,
) -> None:
    """List your files, oldest first."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        files = [_as_dict(f) for f in islice(client.files.list(limit=min(limit, 200)), limit)]
    if app.wants_json(json_output):
        app.print_json(files)
        return
    rows = [(f["id"], f["name"], human_size(f["size"]), f["content_type"], "public" if f["public"] else "",
             str(f["created_at"])[:19]) for f in files]
    app.print_table(["ID", "NAME", "SIZE", "TYPE", "SHARED", "CREATED"], rows)
    if len(files) == limit:
        app.info(f"showing the first {limit}; raise --limit for more")


@cli.command("rm")
def remove(
    ctx: typer.Context,
    file_ids: Annotated[list[str], typer.Argument(metavar="FILE_ID...", help="IDs of the files to delete.")],
) -> None:
    """Delete files."""
    app = app_of(ctx)
    with credentials.signed_in().client() as client:
        for file_id in file_ids:
            client.files.delete(file_id)
            app.success(f"Deleted {file_id}")
