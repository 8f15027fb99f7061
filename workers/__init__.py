"""Celery workers: decode -> embed -> upsert, batched (the index-and-search issue)."""
