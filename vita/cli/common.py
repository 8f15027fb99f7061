"""What every command group shares: the settings built once, consoles, progress bars, options, errors.

Exit status: 0 all good; 1 the run finished but some items failed (listed, and kept in
`vita catalog failures`); 2 the command could not run (a `VitaError`: bad arguments, a missing
key, folder or model). Any other exception is a bug and shows its traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.facade import Catalog

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from catalog.errors import NotFoundError, VitaError
from encoders.config import get_config, list_presets
from vita.settings import Settings

# Piped output is not cut at 80 columns (rich's default without a terminal): tables stay readable.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

_SETTINGS: list[Settings] = []


def use_settings(settings: Settings) -> None:
    """The CLI's callback builds the settings once; every command reads them from here."""
    _SETTINGS[:] = [settings]


def settings() -> Settings:
    if not _SETTINGS:
        use_settings(Settings())
    return _SETTINGS[0]


def open_catalog() -> Catalog:
    return settings().open_catalog()


class VitaGroup(TyperGroup):
    """Turns a `VitaError` from any command (or sub-group) into its message and exit status 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except VitaError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None


def typer_app(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, cls=VitaGroup, pretty_exceptions_enable=False)


def fail(message: str) -> typer.Exit:
    """For checks of the command line itself (an impossible combination of options)."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def emit_json(obj: Any) -> None:
    console.print_json(json.dumps(obj, default=str))


HEARTBEAT_S = 30.0  # a log or a pipe gets a progress line at least this often


class _Lines:
    """Progress as plain lines, for output that is a file or a pipe (`make demo > log`, CI):
    each label's first and last state and, while any is unfinished, a line every `every` s
    (a bar redrawn in place would show nothing there until the end)."""

    def __init__(self, out: Console, every: float) -> None:
        self.out, self.every = out, every
        self.state: dict[str, tuple[int, int | None, str, float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def line(self, label: str) -> None:
        done, total, note, start = self.state[label]
        elapsed = time.monotonic() - start
        eta = f", ETA {elapsed * (total - done) / done:.0f} s" if total and 0 < done < total else ""
        share = f" ({100 * done / total:.0f}%)" if total else ""
        self.out.print(f"{label}: {done}/{total if total is not None else '?'}{share}, {elapsed:.0f} s{eta}"
                       + (f"  {note}" if note else ""), markup=False, highlight=False)

    def update(self, label: str, done: int, total: int | None, note: str = "") -> None:
        with self.lock:
            new = label not in self.state
            start = time.monotonic() if new else self.state[label][3]
            finished = total is not None and done >= total
            was_finished = not new and self.state[label][1] is not None and self.state[label][0] >= (self.state[label][1] or 0)
            self.state[label] = (done, total, note, start)
            if new or (finished and not was_finished):
                self.line(label)

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            with self.lock:
                for label, (done, total, _, _) in self.state.items():
                    if total is None or done < total:
                        self.line(label)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@contextmanager
def progress_bars(transient: bool = False, out: Console | None = None,
                  every: float = HEARTBEAT_S) -> Iterator[Callable[..., None]]:
    """One bar per label: `update(label, done, total)`; the one progress set-up of every command.
    In a terminal: rich bars with ETA; in a file or a pipe: lines, at least one every `every` s."""
    out = out or err
    if not out.is_terminal:
        lines = _Lines(out, every)
        try:
            yield lines.update
        finally:
            lines.close()
        return
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=out, transient=transient) as bar:
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int | None, note: str = "") -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total, note="")
            bar.update(tasks[label], completed=done, total=total, note=note)

        yield update


def print_failures(failures: list[tuple[str, str, str]], total: int, command: str) -> None:
    """The first 20 (file, stage, reason) rows, and where to see them all."""
    ft = Table("file / item", "stage", "reason", title=f"{total} failed", title_style="red")
    for item, stage, reason in failures[:20]:
        ft.add_row(item, stage, reason)
    console.print(ft)
    if total > 20:
        console.print(f"... and {total - 20} more")
    console.print(f"All failures: [bold]{command}[/bold]")


def model_dir(model: Path | None, preset: str = "tiny") -> Path:
    """The model a command works with: `--model`, else what `vita train` wrote for the preset."""
    path = model or settings().models_dir / preset
    if str(path).startswith("preset:"):  # a preset's own offline weights (preset:field), not a directory
        return path
    if not path.exists():
        raise NotFoundError(f"no encoder at {path}; run `vita train --preset {preset}` (or `make demo`) first, "
                            "or pass --model")
    return path


def default_model(model: str | None, preset: str) -> str:
    """`--model`, else what `vita train` wrote for the preset, else (for `field`) its untrained
    ConSE adapters: `preset:field`, so real towers index with no training at all."""
    if model:
        return model
    path = settings().models_dir / preset
    if not path.exists() and get_config(preset).field is not None:
        return f"preset:{preset}"
    return str(path)


def summary(title: str, rows: list[tuple[str, object]]) -> None:
    """A run's summary: its title on a line of its own (a table title wraps to the table's width,
    "ingest folder (run / 1)"), then the counts."""
    console.print(f"[bold]{escape(title)}[/bold]")
    t = Table(show_header=False)
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)


# ---------------------------------------------------------------- options declared once

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _preset(value: str) -> str:
    if value not in list_presets():
        raise typer.BadParameter(f"{value!r} is not a preset; the presets are {', '.join(list_presets())}")
    return value


PresetOpt = Annotated[str, typer.Option(callback=_preset, help=f"Encoder preset: {', '.join(list_presets())} "
                                        "(tiny trains here on CPU; biovita wants a GPU).")]
ModelOpt = Annotated[Path | None, typer.Option(help="Encoder checkpoint directory (default: <data>/models/tiny).")]
SeedOpt = Annotated[int, typer.Option(help="Random seed.")]
