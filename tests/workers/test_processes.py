"""Stopping a process group: the polite signal first, the kill after the timeout, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from workers.processes import stop_group

PARENT_AND_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)
DEAF = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(600)\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_whole_group_stops_on_the_polite_signal() -> None:
    proc = subprocess.Popen([sys.executable, "-c", PARENT_AND_CHILD], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert _alive(child)
    status = stop_group(proc, timeout=30)
    assert status == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:  # the child is reaped by init once it exits
        time.sleep(0.05)
    assert not _alive(child)


def test_a_process_that_ignores_the_signal_is_killed_after_the_timeout() -> None:
    proc = subprocess.Popen([sys.executable, "-c", DEAF], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "up"
    t0 = time.monotonic()
    assert stop_group(proc, timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - t0 >= 0.5
    assert stop_group(proc) == -signal.SIGKILL  # already gone: only reaped
