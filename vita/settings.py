"""All configuration in one place: `VITA_*` environment variables (or a `.env` file).

`Settings` is built once at an edge (the CLI's callback, the UI's start-up, a worker's
start-up) and hands each lower layer the small typed record it needs (`open_catalog`,
`fetch_config`, `store_config`, `index_config`, ...). No module below `vita/` imports this one
(`tests/test_architecture.py` checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.facade import Catalog

import dataclasses
import json
import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog.decode import Limits
from catalog.sources.base import CC_LICENSES, FetchConfig
from indexer.store import Cluster, Layout, StoreConfig
from indexer.store.config import HNSW_EF_CONSTRUCT, HNSW_M
from workers.config import BrokerConfig, IndexConfig, WorkerConfig

_LIMITS = Limits()  # the one home of the limit defaults


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
    max_file_bytes: int = Field(_LIMITS.max_file_bytes, description="Larger files are refused unread.")
    max_audio_seconds: float = Field(_LIMITS.max_audio_seconds, description="Longer recordings are refused.")
    min_audio_seconds: float = Field(_LIMITS.min_audio_seconds, description="Shorter recordings are refused.")
    silence_peak: float = Field(_LIMITS.silence_peak, description="A recording whose peak is below this is silent.")
    max_image_pixels: int = Field(_LIMITS.max_image_pixels, description="Decompression-bomb guard.")
    min_image_side: int = Field(_LIMITS.min_image_side, description="Smaller images are refused.")

    # Index, search and workers
    corpus: str = Field("main", pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$",
                        description="This catalog's name in collection names (one per corpus + model).")
    qdrant_url: str | None = Field(None, description="Qdrant server; default is the embedded store.")
    qdrant_api_key: SecretStr | None = Field(None, description="API key for the Qdrant server.")
    qdrant_shards: int = Field(1, ge=1, description="shard_number of collections created on a Qdrant cluster.")
    qdrant_replicas: int = Field(1, ge=1, description="replication_factor of collections created on a Qdrant cluster.")
    qdrant_write_consistency: int = Field(1, ge=1, description="write_consistency_factor of new collections "
                                                               "(replicas that must confirm a write).")
    broker_url: str | None = Field(None, description="Celery broker, e.g. redis://127.0.0.1:6379/0; "
                                   "default: a filesystem broker in data_dir (no server).")
    result_backend: str | None = Field(None, description="Celery results; default: files in data_dir.")
    workers: int = Field(2, ge=1, description="Worker processes `vita index` starts for itself.")
    worker_threads: int | None = Field(None, ge=1, description="The model's math threads in each worker process "
                                                              "(default: workers.config.thread_plan).")
    decode_threads: int | None = Field(None, ge=1, description="Threads in each worker process decoding media "
                                                              "ahead of the model (default: thread_plan).")
    store_on_disk: bool | None = Field(None, description="New collections keep their float32 vectors on disk "
                                                         "(mmap); default: on (indexer.store.config.ON_DISK_INT8).")
    store_int8: bool | None = Field(None, description="New collections keep an int8 copy of their vectors in RAM; "
                                                      "queries scan it and rescore with the originals; default: "
                                                      "on (indexer.store.config.ON_DISK_INT8).")
    store_hnsw_m: int = Field(HNSW_M, ge=4, le=128, description="HNSW edges per node of new collections (more: better "
                                                            "recall for far queries, slower optimize, more memory).")
    store_hnsw_ef_construct: int = Field(HNSW_EF_CONSTRUCT, ge=4, description="HNSW candidate list while building new collections.")
    store_hnsw_ef: int | None = Field(None, ge=4, le=65536, description="HNSW candidate list of every query (more: "
                                                                       "better recall, slower); default: from each "
                                                                       "collection's size (512 up to 100k points, "
                                                                       "3072 at a million).")
    api_key: SecretStr | None = Field(None, description="`vita api`: when set, every request but /health needs it "
                                                        "(X-API-Key header); writes always need it.")
    api_max_upload_mb: int = Field(20, ge=1, le=2048, description="`vita api`: the largest upload (and request body).")
    api_max_query_seconds: float = Field(600.0, gt=0, description="`vita api`: the longest query recording.")
    api_max_query_pixels: int = Field(40_000_000, ge=1, description="`vita api`: the largest query photo (pixels).")
    api_body_idle_s: float = Field(30.0, gt=0, description="`vita api`: a request body that stalls this long gets 408.")
    api_parallel: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2), ge=1, le=256,
                              description="`vita api`: searches run at once in one process (the store's reads and "
                                          "the model's forward take concurrent callers).")
    api_text_processes: int = Field(0, ge=0, le=64, description="`vita api`: processes that run text queries' "
                                    "forward pass beside the server's (each holds a copy of the model); 0: in the server.")
    api_queue: int = Field(32, ge=0, le=100_000, description="`vita api`: searches that may wait for a slot; past "
                                                             "this a request gets 503 with Retry-After.")

    # ------------------------------------------------------------ paths

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

    @property
    def models_dir(self) -> Path:
        """Where `vita train` writes models (`<models_dir>/<name>`)."""
        return self.data_dir / "models"

    # ------------------------------------------------------------ what each layer is handed

    def limits(self) -> Limits:
        return Limits(**{f: getattr(self, f) for f in Limits.__dataclass_fields__})

    def query_limits(self) -> Limits:
        """The limits on what an app uploads to `vita api` (tighter than ingest's: one query's worth)."""
        base = self.limits()
        return dataclasses.replace(base, max_file_bytes=min(base.max_file_bytes, self.api_max_upload_mb * 1024**2),
                                   max_audio_seconds=min(base.max_audio_seconds, self.api_max_query_seconds),
                                   max_image_pixels=min(base.max_image_pixels, self.api_max_query_pixels))

    def open_catalog(self, url: str | None = None, limits: Limits | None = None) -> Catalog:
        """The catalog at `url` (default: this configuration's database) with these limits (or `limits`)."""
        from catalog.facade import Catalog  # SQLAlchemy and alembic load when a command opens the catalog

        return Catalog(url or self.resolved_database_url, limits=limits or self.limits())

    def fetch_config(self) -> FetchConfig:
        return FetchConfig(media_dir=self.media_dir, cache_dir=self.data_dir / "cache",
                           licenses=tuple(self.licenses), requests_per_second=self.requests_per_second,
                           timeout_s=self.http_timeout_s, max_file_bytes=self.max_file_bytes)

    def xc_api_key(self) -> str | None:
        return self.xc_key.get_secret_value() if self.xc_key else None

    def store_config(self) -> StoreConfig:
        key = self.qdrant_api_key.get_secret_value() if self.qdrant_api_key else None
        return StoreConfig(index_dir=self.index_dir, url=self.qdrant_url, api_key=key,
                           cluster=Cluster(self.qdrant_shards, self.qdrant_replicas, self.qdrant_write_consistency),
                           layout=Layout(self.store_on_disk, self.store_int8, self.store_hnsw_m,
                                         self.store_hnsw_ef_construct), hnsw_ef=self.store_hnsw_ef)

    def broker_config(self) -> BrokerConfig:
        return BrokerConfig(folder=(self.data_dir / "broker").resolve(), url=self.broker_url,
                            result_backend=self.result_backend)

    def worker_config(self) -> WorkerConfig:
        return WorkerConfig(database_url=self.resolved_database_url, store=self.store_config(),
                            broker=self.broker_config(), limits=self.limits(), model_threads=self.worker_threads,
                            decode_threads=self.decode_threads)

    def index_config(self, workers: int | None = None) -> IndexConfig:
        return IndexConfig(corpus=self.corpus, worker=self.worker_config(), log_dir=self.data_dir / "logs",
                           workers=workers or self.workers, worker_env=self.to_env())

    def to_env(self) -> dict[str, str]:
        """`VITA_*` variables that rebuild these settings in a child process (workers, the UI server)."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, Path):
                value = value.resolve()
            env[f"VITA_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
        env["VITA_DATABASE_URL"] = self.resolved_database_url
        return env
