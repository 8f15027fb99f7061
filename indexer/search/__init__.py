"""Search: one package for the CLI, the UI and the benchmarks.

A query is free text, an audio file, an image file, or media already indexed ("more like this");
the target is audio, image, text (taxa) or any; filters narrow by lineage, traits, licence,
source, date and place; grouping keeps one hit per species or per recording so that one long
recording cannot fill the page. Results carry catalog metadata, time offsets and attribution.
"""

from indexer.search.facade import Searcher
from indexer.search.request import GroupBy, QueryError, Result, SearchRequest, SearchResponse, Target

__all__ = ["GroupBy", "QueryError", "Result", "SearchRequest", "SearchResponse", "Searcher", "Target"]
