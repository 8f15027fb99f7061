"""Stopping a child process and everything it started: the one place the escalation is written."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any


def stop_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30.0,
               whole_group: bool = True) -> int:
    """Ask `proc` (started with `start_new_session=True`, so it leads its own process group) to stop
    with `sig`, sent to its whole group or (`whole_group=False`) to it alone, which then stops its
    own children; after `timeout` seconds the group is killed. Returns the exit status; a process
    that has already exited is only reaped."""
    if proc.poll() is None:
        try:
            (os.killpg if whole_group else os.kill)(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.wait()
