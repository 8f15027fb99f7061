"""Shared fixtures: settings in a temp dir, and catalogs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from catalog.api import Catalog
from vita.settings import Settings

PG_URL = os.environ.get("VITA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings for a test: its own data dir, and no politeness delays against mocked servers."""
    values: dict[str, object] = {"data_dir": tmp / "data", "requests_per_second": 1000.0, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server() -> str:
    if not _pg_available():
        if os.environ.get("VITA_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL is required (VITA_REQUIRE_PG) but {PG_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"vita_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def catalog(settings: Settings, db_url: str) -> Iterator[Catalog]:
    cat = Catalog(settings, url=db_url)
    yield cat
    cat.close()


def small_world(root: Path) -> tuple[Catalog, Settings, Path]:
    """The small demo world in its own data dir, and a random-weight tiny model saved beside it:
    enough for tests of machinery (indexing, search, UI), not of accuracy."""
    from catalog.sources.demo import DemoWorldSource
    from encoders.factory import create_encoder, save_vita

    settings = make_settings(root)
    cat = Catalog(settings)
    assert cat.ingest(DemoWorldSource(settings.media_dir, "small")).failed == 0
    save_vita(create_encoder("tiny", pretrained=False), root / "model")
    return cat, settings, root / "model"
