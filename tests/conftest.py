"""Shared fixtures: settings in a temp dir, and catalogs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from catalog.facade import Catalog
from tests.support import make_settings
from vita.settings import Settings

PG_URL = os.environ.get("VITA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


#: What an absent server looks like; anything else (a broken driver, bad credentials) is a real failure.
_UNREACHABLE = ("connection refused", "could not connect", "timeout expired", "no route to host",
                "could not translate host name", "network is unreachable")


def _pg_available() -> bool:
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
        return True
    except OperationalError as exc:
        if any(s in str(exc).lower() for s in _UNREACHABLE):
            return False
        raise
    finally:
        engine.dispose()


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
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # a test may restart the server
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
    cat = settings.open_catalog(db_url)
    yield cat
    cat.close()


@pytest.fixture(scope="session")
def wordnet() -> object:
    """WordNet's database (Debian's wordnet-base); required where VITA_REQUIRE_WORDNET is set (make test)."""
    from catalog.names.wordnet import WordNet

    wn = WordNet.find()
    if wn is None:
        if os.environ.get("VITA_REQUIRE_WORDNET"):
            pytest.fail("WordNet is required here (Debian's wordnet-base; `make test` installs it)")
        pytest.skip("no WordNet database (Debian's wordnet-base)")
    return wn
