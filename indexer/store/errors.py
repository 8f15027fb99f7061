"""The store's one error (a `VitaError`: the CLI prints it and exits 2)."""

from __future__ import annotations

from catalog.errors import VitaError


class StoreError(VitaError, RuntimeError):
    """The store cannot do what was asked (missing collection, locked directory, ...)."""
