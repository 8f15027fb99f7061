"""Search: one package for the CLI, the UI and the benchmarks.

A query is free text, an audio file, an image file, or media already indexed ("more like this");
the target is audio, image, text (taxa) or any; filters narrow by lineage, traits, licence,
source, date and place; grouping keeps one hit per species or per recording so that one long
recording cannot fill the page. Results carry catalog metadata, time offsets and attribution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indexer.search.request import GroupBy, QueryError, Result, SearchRequest, SearchResponse, Target

if TYPE_CHECKING:
    from indexer.search.facade import Searcher


def __getattr__(name: str) -> Any:
    """`Searcher` on first use: it pulls in the encoders (torch), which the request types and a
    command's `--help` do not need."""
    if name == "Searcher":
        from indexer.search.facade import Searcher

        return Searcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GroupBy", "QueryError", "Result", "SearchRequest", "SearchResponse", "Searcher", "Target"]
