"""Worker start-up, an edge: `celery -A vita.worker worker` reads the settings here, once.

`vita index` starts its own workers this way (with its settings in their environment and the
broker's folders already made); on other machines, run the same command with the same `VITA_*`
variables (see docs/architecture.md).
"""

from __future__ import annotations

from vita.settings import Settings
from workers.app import make_app

app = make_app(Settings().worker_config(), create_dirs=False)
