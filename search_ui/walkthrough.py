"""The three things the product is for, in a real browser: "nocturnal Hylidae calls", a photo ->
sounds, browsing a family; then the review page of the agile loop. Used by the end-to-end test and to refresh the README's screenshots:
    python -m search_ui.walkthrough http://127.0.0.1:8501 docs/ PHOTO [--family Hylidae]
Drives Debian's chromium through Playwright (no browser download)."""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


@dataclass
class Seen:
    direct_text: str  # /search opened directly
    search_text: str
    search_audio: int
    photo_audio: int
    photo_images: int
    photo_text: str
    browse_text: str
    browse_cards: int
    browse_widths: list[float]  # rendered width of each card's picture (photo or spectrogram), px
    review_text: str  # /review: the agile loop's page


def _idle(pg: Any) -> None:
    """Until Streamlit's running indicator is gone (its script run has finished)."""
    pg.wait_for_timeout(500)
    pg.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=TIMEOUT_MS)
    pg.wait_for_timeout(300)


def walk(url: str, out: Path, photo: Path, family: str = "Hylidae") -> Seen:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS,
                                                   viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        pg.goto(url + "/search")  # every page has its own address, the default one too
        pg.get_by_placeholder("nocturnal Hylidae calls", exact=False).wait_for(timeout=TIMEOUT_MS)
        _idle(pg)
        direct = pg.inner_text("body")
        pg.goto(url + "/")
        box = pg.get_by_placeholder("nocturnal Hylidae calls", exact=False)
        box.wait_for(timeout=TIMEOUT_MS)
        box.fill("nocturnal Hylidae calls")
        box.press("Enter")
        pg.get_by_text("results · audio").wait_for(timeout=TIMEOUT_MS)
        for chip in ("family: Hylidae", "activity=nocturnal"):  # the parsed filters' chips, drawn with the results
            pg.get_by_text(chip, exact=False).first.wait_for(timeout=TIMEOUT_MS)
        _idle(pg)
        search_text, search_audio = pg.inner_text("body"), pg.locator("audio").count()
        pg.screenshot(path=str(out / "ui-search.png"))

        pg.goto(url + "/")
        pg.get_by_text("... or search with a sound or a photo").click()
        pg.locator('input[type="file"]').nth(1).set_input_files(str(photo))
        pg.get_by_text("results · audio").wait_for(timeout=TIMEOUT_MS)
        _idle(pg)
        photo_text, photo_audio = pg.inner_text("body"), pg.locator("audio").count()
        photo_images = pg.locator('[data-testid="stImage"]').count()  # the query's photo + a spectrogram per card
        pg.screenshot(path=str(out / "ui-photo-to-sounds.png"))

        pg.goto(f"{url}/browse?family={family}")
        pg.get_by_text("Page (of", exact=False).wait_for(timeout=TIMEOUT_MS)
        _idle(pg)
        browse_text = pg.inner_text("body")
        cards = pg.locator('[data-testid="stImage"]').count()  # one per card: the spectrogram or the photo
        widths = pg.locator('[data-testid="stImage"] img').evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().width)")
        pg.screenshot(path=str(out / "ui-browse.png"))

        pg.goto(url + "/review")
        ready = re.compile("Least sure|No labels yet|No classifier for this label")
        pg.get_by_text(ready).first.wait_for(timeout=TIMEOUT_MS)  # the page's last part, or why there is none
        _idle(pg)
        if pg.get_by_text("No classifier for this label").count():  # labels but no classifier: train one
            pg.get_by_role("button", name="Train classifier").click()
            pg.get_by_text("Least sure").wait_for(timeout=TIMEOUT_MS)
            _idle(pg)
        review_text = pg.inner_text("body")
        pg.screenshot(path=str(out / "ui-review.png"), full_page=True)
        ctx.close()
    return Seen(direct, search_text, search_audio, photo_audio, photo_images, photo_text, browse_text, cards,
                [float(w) for w in widths], review_text)


if __name__ == "__main__":
    args = sys.argv[1:]
    fam = args[args.index("--family") + 1] if "--family" in args else "Hylidae"
    print(walk(args[0], Path(args[1]), Path(args[2]), fam).__dict__.keys())
