"""Celery workers and `vita index`: plan, dispatch batches (decode -> embed), commit, recover."""
