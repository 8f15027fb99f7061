"""The one exception base of VITA (qdrant-client's manner: one base, specific subclasses).

It lives at the bottom of the layering so every layer can raise it. A `VitaError` is a
problem with the user's input, configuration or data, and its message says what to do; the
CLI prints it and exits 2. Anything else that escapes is a bug and shows its traceback.
"""

from __future__ import annotations


class VitaError(Exception):
    """A problem the user can fix; the message names the file, the value or the next step."""


class ConfigError(VitaError, ValueError):
    """Bad arguments or configuration: an unknown name, an impossible combination, no data to work on."""


class NotFoundError(VitaError, FileNotFoundError):
    """Something the command needs is not there: a model, a checkpoint, an input file."""


__all__ = ["ConfigError", "NotFoundError", "VitaError"]
