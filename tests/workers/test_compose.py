"""docker-compose.yml is the whole stack, and a worker service that scales (`--scale worker=N`).

Checked with `docker compose config` (or Debian's `docker-compose`), which needs no Docker engine;
`make services` installs Debian's docker-compose where neither is present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if exe := shutil.which("docker-compose"):
        return [exe]
    if os.environ.get("VITA_REQUIRE_COMPOSE"):
        pytest.fail("neither `docker compose` nor `docker-compose` is installed (make services installs it)")
    pytest.skip("no docker compose here")


def test_compose_config_is_the_whole_stack_with_a_scalable_worker() -> None:
    out = subprocess.run([*_compose(), "-f", str(ROOT / "docker-compose.yml"), "--profile", "cli", "config"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "VITA_MEDIA": "/srv/media"})
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert {"qdrant", "redis", "postgres", "worker", "ui", "cli"} <= set(services)
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")  # N copies can run side by side
    assert worker["command"][:3] == ["celery", "-A", "vita.worker"]
    for name in ("worker", "ui", "cli"):
        env = services[name]["environment"]
        assert env["VITA_BROKER_URL"].startswith("redis://redis:")
        assert env["VITA_QDRANT_URL"] == "http://qdrant:6333"
        assert env["VITA_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:" in env["VITA_DATABASE_URL"]
        # the same media and data paths in every container: the coordinator's paths are the workers'
        mounts = {str(v.get("target") if isinstance(v, dict) else v.split(":")[1]) for v in services[name]["volumes"]}
        assert {"/data", "/media"} <= mounts
    assert services["ui"]["command"][:2] == ["vita", "serve"]
    assert (ROOT / "Dockerfile").is_file()
