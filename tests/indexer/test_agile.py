"""The agile loop on the small demo world (synthetic media) indexed with the shipped tiny model:
label through the CLI, train, compare with a nearest-neighbour search from one of the same examples,
score into detections, review, export to Raven."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from catalog.api import Catalog
from catalog.models import Detection, Media, Taxon
from encoders.pretrained import shipped
from indexer.agile import Classifier, scored
from indexer.raven import RAVEN_COLUMNS, read_raven
from indexer.search import Searcher, SearchRequest
from tests.support import small_world
from vita.settings import Settings
from workers.indexing import run_index

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings]]:
    cat, settings, _ = small_world(tmp_path_factory.mktemp("agile"))
    model = shipped("tiny")
    assert model is not None
    assert run_index(cat, settings.index_config(), str(model), eager=True).failed == 0
    yield cat, settings
    cat.close()


def _family_of(cat: Catalog) -> dict[int, str]:
    with cat.sessions() as s:
        return dict(s.execute(select(Media.id, Taxon.family_name).join(Taxon, Media.taxon_id == Taxon.id)).all())


def test_a_classifier_from_ten_labels_beats_a_search_from_one(world: tuple[Catalog, Settings], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from vita.cli import app

    cat, settings = world
    fam = _family_of(cat)
    with cat.sessions() as s:
        audio = list(s.scalars(select(Media.id).where(Media.kind == "audio").order_by(Media.id)))
    target = Counter(fam[m] for m in audio).most_common(1)[0][0]
    pos = [m for m in audio if fam[m] == target][:5]
    neg = [m for m in audio if fam[m] != target][::37][:5]
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    for ids, extra in ((pos, []), (neg, ["--no"])):
        r = runner.invoke(app, ["annotate", "add", *map(str, ids), "--label", target, *extra])
        assert r.exit_code == 0, r.output
    trained = runner.invoke(app, ["classify", "train", target])
    assert trained.exit_code == 0, trained.output
    assert "5 positive, 5 negative, 64 weak negative" in trained.output and "precision" in trained.output
    labelled = set(pos) | set(neg)
    with Searcher(cat, settings.store_config(), settings.corpus) as searcher:
        clf = Classifier.load(settings.data_dir / "classifiers" / searcher.media_c, target)
        ranked = sorted(((p, int(pl["media_id"])) for pl, p in scored(searcher.store, searcher.media_c, clf)
                         if int(pl["media_id"]) not in labelled), reverse=True)
        ours = [m for _, m in ranked][:20]
        near = searcher.search(SearchRequest(media_ids=[pos[0]], k=60)).results
        theirs = [r.media_id for r in near if r.media_id is not None and r.media_id not in labelled][:20]
    p_ours = float(np.mean([fam[m] == target for m in ours]))
    p_theirs = float(np.mean([fam[m] == target for m in theirs]))
    assert len(ours) == len(theirs) == 20
    assert p_ours > p_theirs, (target, p_ours, p_theirs)

    scored_out = runner.invoke(app, ["classify", "score", target, "--threshold", "0.5"])
    assert scored_out.exit_code == 0, scored_out.output
    with cat.sessions() as s:
        n = s.scalar(select(func.count()).select_from(Detection).where(Detection.label == target))
    assert n and f"{n} detection(s)" in scored_out.output
    again = runner.invoke(app, ["classify", "score", target, "--threshold", "0.5"])  # replaces, never doubles
    with cat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Detection).where(Detection.label == target)) == n
    assert again.exit_code == 0
    review = runner.invoke(app, ["classify", "review", target, "-n", "5"])
    assert review.exit_code == 0 and "uncertain" in review.output and "top" in review.output
    out = tmp_path / "all.txt"
    exported = runner.invoke(app, ["detect", "export", str(out), "--format", "raven-combined", "--label", target])
    assert exported.exit_code == 0, exported.output
    rows = read_raven(out)
    assert len(rows) == n and set(RAVEN_COLUMNS) <= set(rows[0]) and {r["Label"] for r in rows} == {target}
