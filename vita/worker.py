"""Worker start-up, an edge: `celery -A vita.worker worker` reads the settings here, once.

`vita index` starts its own workers this way (with its settings in their environment and the
broker's folders already made); on other machines, run the same command with the same `VITA_*`
variables (see docs/architecture.md).
"""

from __future__ import annotations

import os

from vita.settings import Settings
from workers.app import make_app, stop_with

app = make_app(Settings().worker_config(), create_dirs=False)
if os.environ.get("VITA_INDEX_COORDINATOR_PID", "").isdigit():  # started by `vita index`: go when it goes
    stop_with(int(os.environ["VITA_INDEX_COORDINATOR_PID"]))
