"""`vita` mirrors the API: exit codes, summaries, JSON output, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support import hostile_corpus, write_csv
from vita.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VITA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VITA_MAX_FILE_BYTES", str(2 * 1024**2))
    monkeypatch.setenv("VITA_MAX_AUDIO_SECONDS", "5")
    monkeypatch.delenv("VITA_DATABASE_URL", raising=False)
    return tmp_path


def test_folder_ingest_exit_status_summary_and_failures(env: Path) -> None:
    root = env / "corpus"
    rows, expected = hostile_corpus(root)
    write_csv(root / "metadata.csv", rows)
    result = runner.invoke(app, ["ingest", "folder", str(root)])
    assert result.exit_code == 1, result.output
    assert f"{len(expected)} failed" in result.output
    assert "vita catalog failures" in result.output

    listed = runner.invoke(app, ["catalog", "failures", "--json"])
    assert listed.exit_code == 0
    rows_out = json.loads(listed.stdout)
    assert len(rows_out) == len(expected)
    assert all(r["reason"] and r["stage"] and r["item"] for r in rows_out)

    stats = json.loads(runner.invoke(app, ["catalog", "stats", "--json"]).stdout)
    assert stats["open_failures"] == len(expected)
    assert stats["media"] == 5

    card = runner.invoke(app, ["catalog", "species", "Hyla versicolor"])
    assert card.exit_code == 0
    assert "Hylidae" in card.output
    assert "cc-by" in card.output


def test_clean_ingest_exits_zero_and_unknown_species_is_an_error(env: Path) -> None:
    from tests.support import good_corpus

    root = env / "ok"
    root.mkdir()
    write_csv(root / "metadata.csv", good_corpus(root))
    done = runner.invoke(app, ["ingest", "folder", str(root)])
    assert done.exit_code == 0
    assert "ingest folder (run 1)\n" in done.output  # the title on one line
    owl = runner.invoke(app, ["catalog", "species", "Strix varia"])
    assert owl.exit_code == 0
    assert "cc-by-nc " in owl.output  # the licence whole, not cut at a hyphen
    missing = runner.invoke(app, ["catalog", "species", "Hyla versicolr"])
    assert missing.exit_code == 2
    assert "did you mean" in missing.output
    assert "Hyla versicolor" in missing.output
    assert runner.invoke(app, ["ingest", "folder", str(env / "nope")]).exit_code == 2


def test_xc_without_key_is_a_usage_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VITA_XC_KEY", raising=False)
    result = runner.invoke(app, ["ingest", "xc", "gen:Hyla", "--no-resolve"])
    assert result.exit_code == 2
    assert "VITA_XC_KEY" in result.output


def test_the_cli_starts_without_the_heavy_libraries() -> None:
    """`vita --help` and the commands that do not embed must not pay for torch, transformers,
    open_clip or streamlit at start-up: they load when a command needs them."""
    import subprocess
    import sys

    code = ("import sys, vita.cli; heavy = ['torch', 'transformers', 'open_clip', 'streamlit']; "
            "print(','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_progress_in_a_log_is_lines_with_a_heartbeat() -> None:
    """Output to a file or a pipe gets plain lines: a label's start, a line every `every` seconds
    while it runs (a slow step included), and its end."""
    import io
    import time

    from rich.console import Console

    from vita.cli.common import progress_bars

    buf = io.StringIO()
    out = Console(file=buf, force_terminal=False, width=200)
    with progress_bars(out=out, every=0.05) as update:
        update("ingest demo", 0, 40)
        update("ingest demo", 10, 40)
        deadline = time.monotonic() + 30
        while buf.getvalue().count("ingest demo: 10/40") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # no update for a while: the heartbeat still writes
        update("ingest demo", 40, 40)
        update("ingest demo", 40, 40)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("ingest demo: 0/40 (0%)")
    assert sum(x.startswith("ingest demo: 10/40 (25%)") and "ETA" in x for x in lines) >= 2
    assert [x for x in lines if x.startswith("ingest demo: 40/40")] == [lines[-1]]  # the end, once


def test_serve_starts_before_anything_is_indexed(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vita serve` with no index hands over to Streamlit all the same (the pages explain what to do)."""
    import os

    started: list[list[str]] = []

    def execve(path: str, argv: list[str], environ: dict[str, str]) -> None:
        started.append(argv)

    monkeypatch.setattr(os, "execve", execve)
    result = runner.invoke(app, ["serve", "--port", "8599"])
    assert result.exit_code == 0, result.output
    assert "nothing indexed yet" in result.output
    assert started
    assert "streamlit" in started[0]
    assert started[0][started[0].index("--server.port") + 1] == "8599"


def test_every_command_has_a_help_page() -> None:
    """`--help` renders for every command and group: option texts pass through rich markup, where
    a bracketed word such as "[/int8]" is a closing tag and crashes the page."""
    from typing import Any

    import typer

    def walk(cmd: Any, path: list[str]) -> list[list[str]]:  # typer's own click: duck-typed
        found = [path]
        ctx = cmd.make_context(path[-1] if path else "vita", ["--help"], resilient_parsing=True)
        for name in getattr(cmd, "list_commands", lambda _: [])(ctx):
            found += walk(cmd.get_command(ctx, name), [*path, name])
        return found

    paths = walk(typer.main.get_command(app), [])
    assert len(paths) > 20  # the walk reached the subcommands
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=120)
        assert result.exit_code == 0, (path, result.output, result.exception)
        assert "Usage" in result.output, path
