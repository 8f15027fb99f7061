"""The coordinator's patience with the catalog database: a call retried while the database is
unreachable (a restart, a failover), saying so once per outage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

Notice = Callable[[str], None]  # a line for the user (the CLI prints it)
#: How long the coordinator waits for an unreachable catalog database before giving up.
DB_WAIT_S = 600.0
DB_ERRORS = (OperationalError, InterfaceError)

T = TypeVar("T")


def patient(fn: Callable[[], T], notice: Notice | None = None, wait_s: float = DB_WAIT_S) -> T:
    """`fn()`, retried while the catalog database is unreachable (a restart, a failover), for up to
    `wait_s`; says so once per outage. What a batch writes is idempotent, so a retry is safe."""
    deadline, delay, told = time.monotonic() + wait_s, 0.5, False
    while True:
        try:
            return fn()
        except DB_ERRORS as exc:
            if time.monotonic() > deadline:
                raise
            if notice and not told:
                notice(f"the catalog database is unreachable ({type(exc).__name__}); waiting for it "
                       f"(up to {wait_s:.0f} s), nothing is lost")
                told = True
            time.sleep(delay)
            delay = min(2 * delay, 5.0)
