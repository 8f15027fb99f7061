"""The agile loop on the small demo world (synthetic media, plus 30 s recordings of three treefrogs)
indexed with the shipped tiny model: label one species through the CLI, train, compare with a
nearest-neighbour search from one of the same examples, score into detections, review, export to Raven."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select
from typer.testing import CliRunner

from catalog.facade import Catalog
from catalog.sources.demo import sound
from catalog.sources.demo.world import latent, species_list
from catalog.sources.folder import FolderSource
from catalog.tables import Detection, Media, Taxon
from encoders.pretrained import shipped
from indexer.agile import MIN_PER_CLASS, Classifier, _cross_validate, heldout_report, scored, wilson
from indexer.filters import Filter
from indexer.raven import RAVEN_COLUMNS, read_raven
from indexer.search import Searcher
from tests.support import HYLA, row, small_world, write_csv
from vita.settings import Settings
from workers.indexing import IndexOptions, run_index

pytestmark = pytest.mark.slow


CHORUS = ("Hyla versicolor", "Hyla chrysoscelis", "Hyla arborea")  # three treefrogs of one genus


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings]]:
    """The small world plus six 30 s recordings (six windows each) of each of three Hyla species:
    a species with enough windows to rank, and congeners that sound alike."""
    root = tmp_path_factory.mktemp("agile")
    cat, settings, _ = small_world(root)
    folder = root / "chorus"
    folder.mkdir()
    rng = np.random.default_rng(3)
    rows = []
    for name in CHORUS:
        sp = next(x for x in species_list() if x.name == name)
        params = sound.params_for(sp.lineage, latent(sp.lineage, 0))
        for i in range(6):
            sf.write(folder / f"{sp.slug}-{i}.wav", sound.render(params, 30.0, 16000, rng), 16000)
            rows.append(row(f"C-{sp.slug}-{i}", f"{sp.slug}-{i}.wav", name, HYLA))
    write_csv(folder / "metadata.csv", rows)
    assert cat.ingest(FolderSource(folder)).added == len(rows)
    model = shipped("tiny")
    assert model is not None
    assert run_index(cat, settings.index_config(), str(model), IndexOptions(eager=True)).failed == 0
    yield cat, settings
    cat.close()


def _species_of(cat: Catalog) -> dict[int, str]:
    with cat.sessions() as s:
        return dict(s.execute(select(Media.id, Taxon.name).join(Taxon, Media.taxon_id == Taxon.id)).all())


def test_a_classifier_from_ten_labels_beats_a_search_from_one(world: tuple[Catalog, Settings], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """5 yes and 5 no windows of one species (the no's from its congeners), labelled through the CLI:
    the classifier's top 20 unlabelled windows hold more of that species than the nearest neighbours
    of one of the same yes windows."""
    from vita.cli import app

    cat, settings = world
    species = _species_of(cat)
    target = CHORUS[0]
    with cat.sessions() as s:
        chorus = list(s.scalars(select(Media.id).where(Media.path.like("%/chorus/%")).order_by(Media.id)))
    pos = [m for m in chorus if species[m] == target][:5]
    neg = [m for m in chorus if species[m] == CHORUS[1]][:3] + [m for m in chorus if species[m] == CHORUS[2]][:2]
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    for ids, extra in ((pos, []), (neg, ["--no"])):  # each recording's first window (offset 0)
        r = runner.invoke(app, ["annotate", "add", *map(str, ids), "--label", target, "--offset", "0", *extra])
        assert r.exit_code == 0, r.output
    trained = runner.invoke(app, ["classify", "train", target])
    assert trained.exit_code == 0, trained.output
    assert "5 positive, 5 negative, 64 weak negative" in trained.output
    assert re.search(r"precision \d\.\d\d \(\d+ of \d+ flagged; 95% CI", trained.output), trained.output
    assert re.search(r"random archive windows flagged: \d+ of 64", trained.output), trained.output
    assert f"fewer than {MIN_PER_CLASS} labelled windows of each answer (5 yes, 5 no)" in trained.output
    labelled = {(m, 0.0) for m in pos + neg}
    with Searcher(cat, settings.store_config(), settings.corpus) as searcher:
        clf = Classifier.load(settings.data_dir / "classifiers" / searcher.media_c, target)
        ranked = sorted(((p, int(pl["media_id"])) for pl, p in scored(searcher.store, searcher.media_c, clf)
                         if (int(pl["media_id"]), float(pl.get("offset_s", 0.0))) not in labelled
                         and pl["modality"] == "audio"), reverse=True)
        ours = [m for _, m in ranked][:20]
        first = next(h for h in searcher.store.scroll(searcher.media_c, Filter({"media_id": [str(pos[0])]}),
                                                      with_vector=True) if float(h.payload.get("offset_s", 0)) == 0.0)
        assert first.vector is not None
        near = searcher.store.query(searcher.media_c, first.vector, Filter({"modality": ["audio"]}), limit=60)
        theirs = [int(h.payload["media_id"]) for h in near
                  if (int(h.payload["media_id"]), float(h.payload.get("offset_s", 0.0))) not in labelled][:20]
    p_ours = float(np.mean([species[m] == target for m in ours]))
    p_theirs = float(np.mean([species[m] == target for m in theirs]))
    assert len(ours) == len(theirs) == 20
    assert p_ours > p_theirs, (target, p_ours, p_theirs)

    scored_out = runner.invoke(app, ["classify", "score", target, "--threshold", "0.5"])
    assert scored_out.exit_code == 0, scored_out.output
    with cat.sessions() as s:
        n = s.scalar(select(func.count()).select_from(Detection).where(Detection.label == target))
    assert n
    assert f"{n} detection(s)" in scored_out.output
    again = runner.invoke(app, ["classify", "score", target, "--threshold", "0.5"])  # replaces, never doubles
    with cat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Detection).where(Detection.label == target)) == n
    assert again.exit_code == 0
    review = runner.invoke(app, ["classify", "review", target, "-n", "5"])
    assert review.exit_code == 0
    assert "uncertain" in review.output
    assert "top" in review.output
    out = tmp_path / "all.txt"
    exported = runner.invoke(app, ["detect", "export", str(out), "--format", "raven-combined", "--label", target])
    assert exported.exit_code == 0, exported.output
    rows = read_raven(out)
    assert len(rows) == n
    assert set(RAVEN_COLUMNS) <= set(rows[0])
    assert {r["Label"] for r in rows} == {target}


def test_held_out_figures_count_what_they_claim_and_see_archive_false_alarms() -> None:
    """Six yes and six no labels that a line separates perfectly, in an archive where a third of the
    windows look like the yes's: held-out precision on the labels is perfect, but the interval says
    how little six labels prove, and the held-out random windows show the false alarms to expect."""
    rng = np.random.default_rng(0)
    yes = rng.normal(0, 0.1, (6, 8)) + np.eye(8)[0] * 3
    no = rng.normal(0, 0.1, (6, 8)) - np.eye(8)[0] * 3
    archive = np.concatenate([rng.normal(0, 0.1, (20, 8)) + np.eye(8)[0] * 3, rng.normal(0, 0.1, (40, 8)) + np.eye(8)[1] * 3])
    x, y = np.concatenate([yes, no]).astype(np.float32), np.array([1.0] * 6 + [0.0] * 6, np.float32)
    h = _cross_validate(x, y, archive.astype(np.float32), folds=3, seed=0)
    assert (h["tp"], h["fp"], h["fn"]) == (6, 0, 0)
    assert h["precision"] == 1.0
    assert h["precision_low"] < 0.7  # six of six is weak evidence
    assert h["weak_tested"] == 60
    assert h["weak_flagged"] >= 15  # the look-alikes are flagged, and the report says so
    clf = Classifier("owl", "c", "m", [0.0] * 8, 0.0, 6, 6, 60, h)
    report = "\n".join(heldout_report(clf))
    assert "6 of 6 flagged" in report
    assert f"random archive windows flagged: {int(h['weak_flagged'])} of 60" in report
    assert "warning: fewer than 10" in report


def test_wilson_interval_is_honest_at_small_counts() -> None:
    lo, hi = wilson(6, 6)
    assert 0.55 < lo < 0.65
    assert hi == pytest.approx(1.0)
    lo, hi = wilson(600, 600)
    assert lo > 0.99
    assert wilson(0, 0) == (0.0, 1.0)
