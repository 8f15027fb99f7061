"""All configuration in one place: `VITA_*` environment variables (or a `.env` file).

Every component reads its knobs from `Settings`, so a curator can point the whole
system at another data directory or database with one variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Creative Commons licence codes as iNaturalist spells them; the default accepts all of them.
CC_LICENSES: tuple[str, ...] = (
    "cc0",
    "cc-by",
    "cc-by-sa",
    "cc-by-nd",
    "cc-by-nc",
    "cc-by-nc-sa",
    "cc-by-nc-nd",
)


class Settings(BaseSettings):
    """Runtime configuration; field `x` is read from `VITA_X`."""

    model_config = SettingsConfigDict(env_prefix="VITA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("vita-data"), description="Catalog, media and indexes live here.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is a SQLite file in data_dir."
    )

    # Sources
    xc_key: SecretStr | None = Field(None, description="Xeno-canto API v3 key.")
    licenses: list[str] = Field(
        default_factory=lambda: list(CC_LICENSES),
        description="Licence codes accepted from online sources.",
    )
    requests_per_second: float = Field(1.0, gt=0, description="Download rate limit per source.")
    http_timeout_s: float = 60.0

    # Bad-input limits (media that break them are recorded as failures, not ingested)
    max_file_bytes: int = Field(2 * 1024**3, description="Larger files are refused unread.")
    max_audio_seconds: float = Field(4 * 3600.0, description="Longer recordings are refused.")
    min_audio_seconds: float = Field(0.05, description="Shorter recordings are refused.")
    silence_peak: float = Field(1e-4, description="A recording whose peak is below this is silent.")
    max_image_pixels: int = Field(100_000_000, description="Decompression-bomb guard.")
    min_image_side: int = Field(8, description="Smaller images are refused.")

    # Index, search and workers
    corpus: str = Field("main", pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$",
                        description="This catalog's name in collection names (one per corpus + model).")
    qdrant_url: str | None = Field(None, description="Qdrant server; default is the embedded store.")
    qdrant_api_key: SecretStr | None = Field(None, description="API key for the Qdrant server.")
    broker_url: str | None = Field(None, description="Celery broker, e.g. redis://127.0.0.1:6379/0; "
                                   "default: a filesystem broker in data_dir (no server).")
    result_backend: str | None = Field(None, description="Celery results; default: SQLite in data_dir.")
    workers: int = Field(2, ge=1, description="Worker processes `vita index` starts for itself.")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to `<data_dir>/catalog.sqlite`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'catalog.sqlite').resolve()}"

    @property
    def index_dir(self) -> Path:
        """The embedded vector store (one process owns it at a time)."""
        return self.data_dir / "index"

    @property
    def media_dir(self) -> Path:
        """Where generated and downloaded media are written."""
        return self.data_dir / "media"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
