"""The catalog's tables (SQLAlchemy 2). Alembic migrations in `catalog/migrations` create them.

Species rows carry their whole lineage as columns so that filters and payloads need no joins.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from catalog.taxonomy import RANKS, Lineage


class MediaKind(str, Enum):
    AUDIO = "audio"
    IMAGE = "image"


class Split(str, Enum):
    """Both papers' protocol: unseen species are wholly held out; seen ones split by recording."""

    TRAIN = "train"
    VAL = "val"
    TEST_SEEN = "test-seen"
    TEST_UNSEEN = "test-unseen"


class MediaStatus(str, Enum):
    READY = "ready"  # decoded and validated at ingest
    INDEXED = "indexed"  # embedded and stored (set by the indexer)
    ERROR = "error"  # a later stage failed; see `error`


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class Taxon(Base):
    __tablename__ = "taxa"
    __table_args__ = (UniqueConstraint("rank", "name", name="uq_taxa_rank_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rank: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("taxa.id"), index=True)
    common_name: Mapped[str | None] = mapped_column(String(200), index=True)
    # Lineage, denormalised (the taxon's own rank is filled too).
    class_name: Mapped[str | None] = mapped_column(String(200), index=True)
    order_name: Mapped[str | None] = mapped_column(String(200), index=True)
    family_name: Mapped[str | None] = mapped_column(String(200), index=True)
    genus_name: Mapped[str | None] = mapped_column(String(200), index=True)
    source_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # species only: "seen" or "unseen" once splits are assigned; never changes afterwards.
    split_role: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    parent: Mapped[Taxon | None] = relationship(remote_side="Taxon.id")
    traits: Mapped[list[TraitValue]] = relationship(back_populates="taxon", cascade="all, delete-orphan")

    def lineage_names(self) -> list[str]:
        """Class .. this taxon, broad to narrow (the ranks that are filled)."""
        names = [self.class_name, self.order_name, self.family_name, self.genus_name]
        upto = names[:RANKS.index(self.rank)] if self.rank in RANKS else names
        return [n for n in upto if n] + [self.name]

    def lineage(self) -> Lineage | None:
        """A species' full lineage, or None when a rank is missing (the one place that builds one from a row)."""
        if self.rank != "species" or not (self.class_name and self.order_name and self.family_name
                                          and self.genus_name):
            return None
        return Lineage(self.class_name, self.order_name, self.family_name, self.genus_name, self.name)


class TraitValue(Base):
    """One yes/no fact: species X has (or lacks) label L of trait category C, from source S."""

    __tablename__ = "trait_values"
    __table_args__ = (
        UniqueConstraint("taxon_id", "category", "label", "source", name="uq_trait_fact"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    taxon_id: Mapped[int] = mapped_column(ForeignKey("taxa.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    label: Mapped[str] = mapped_column(String(32))
    present: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float, default=1.0)

    taxon: Mapped[Taxon] = relationship(back_populates="traits")


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_media_source_item"),
        Index("ix_media_kind_split", "kind", "split"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    taxon_id: Mapped[int] = mapped_column(ForeignKey("taxa.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    source_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    license: Mapped[str | None] = mapped_column(String(64), index=True)
    rights_holder: Mapped[str | None] = mapped_column(String(300))
    attribution: Mapped[str | None] = mapped_column(Text)
    observed_on: Mapped[dt.date | None] = mapped_column(Date)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(16))
    split: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default=MediaStatus.READY.value, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    taxon: Mapped[Taxon] = relationship()


class Failure(Base):
    """A file or row that could not be ingested, with the stage and the reason.

    One row per (source, item): a re-run updates it, and marks it resolved if the item
    then succeeds, so `vita catalog failures` lists what is still wrong.
    """

    __tablename__ = "failures"
    __table_args__ = (UniqueConstraint("source", "item", name="uq_failure_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    item: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=func.now()
    )


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    added: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running")


class IndexCollection(Base):
    """A vector collection built from this catalog with one model (corpus + preset + checkpoint).

    The catalog, not the vector store, remembers which model made a collection, so a search
    through an alias knows which encoder embeds its queries.
    """

    __tablename__ = "index_collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # media | taxa
    alias: Mapped[str] = mapped_column(String(200), index=True)
    model_ref: Mapped[str] = mapped_column(Text)  # checkpoint dir or hf-hub: id
    model_key: Mapped[str] = mapped_column(String(100))
    preset: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    # how high unrelated text reaches here, per target (indexer.search.calibrate): "no good match"
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class IndexEntry(Base):
    """One media item's state in one collection: indexed (with its point count) or failed."""

    __tablename__ = "index_entries"
    __table_args__ = (UniqueConstraint("media_id", "collection", name="uq_index_entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    collection: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16))  # indexed | error
    points: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=func.now())


class AnnotationSource(str, Enum):
    UI = "ui"
    CLI = "cli"
    CSV = "csv"
    CLASSIFIER = "classifier"
    API = "api"


class Annotation(Base):
    """A curator's (or a classifier's) yes/no on a label for one window of a media item: what
    agile classifiers learn from, and what the curator exports."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_label_media", "label", "media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(200))
    positive: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16))  # AnnotationSource
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Detection(Base):
    """A window scored for a label by a classifier or a query, above its threshold: what review
    lists and what exports to Raven or CSV."""

    __tablename__ = "detections"
    __table_args__ = (Index("ix_detections_label_score", "label", "score"),
                      UniqueConstraint("media_id", "offset_s", "label", "source", name="uq_detection_window"))

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(64))  # "classifier" or "query"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
