"""Qdrant collections, payload indexes and queries (the index-and-search issue)."""
