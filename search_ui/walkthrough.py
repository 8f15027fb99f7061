"""The three things the product is for, in a real browser: "nocturnal Hylidae calls", a photo ->
sounds, browsing a family; then the review page of the agile loop; then what a curator shares and
keeps: a copied link reopened, the map and a typed box, a card's species link, a photo's download.
Used by the end-to-end test and to refresh the README's screenshots:
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
    links: Links | None = None


@dataclass
class Links:
    copied: str  # the address the search page's "Copy link" gave
    reopened_query: str  # the search box's words after opening that address in a fresh page
    reopened_text: str
    maps: int  # map charts on the reopened search
    boxed_url: str  # the address after typing a bounding box on Browse
    boxed_text: str
    species_url: str  # where a card's species link led
    species_text: str
    download_name: str  # a photo card's download: its file name, and where the walk saved it
    download: Path


def _idle(pg: Any) -> None:
    """Until Streamlit's running indicator is gone (its script run has finished)."""
    pg.wait_for_timeout(500)
    pg.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=TIMEOUT_MS)
    pg.wait_for_timeout(300)


def _value(field: Any, wait_ms: int = 20_000) -> str:
    """A text field's value once the page has filled it in (the frontend sets it after drawing it)."""
    for _ in range(wait_ms // 250):
        if value := field.input_value():
            return str(value)
        field.page.wait_for_timeout(250)
    return ""


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
        links = _links(pg, url, out, family)
        ctx.close()
    return Seen(direct, search_text, search_audio, photo_audio, photo_images, photo_text, browse_text, cards,
                [float(w) for w in widths], review_text, links)


def _links(pg: Any, url: str, out: Path, family: str) -> Links:
    """Copy a search's link and reopen it; type a box on Browse; follow a species link; download a photo."""
    pg.goto(f"{url}/search?q=calls&family={family}&sort=species")
    pg.get_by_text("results · audio").wait_for(timeout=TIMEOUT_MS)
    _idle(pg)
    pg.get_by_role("button", name="Copy link").click()
    code = pg.locator('[data-testid="stCode"]').filter(has_text="/search?").first
    code.wait_for(timeout=TIMEOUT_MS)
    copied = code.inner_text().strip()
    fresh = pg.context.new_page()
    fresh.goto(copied)
    fresh.get_by_text("results · audio").wait_for(timeout=TIMEOUT_MS)
    _idle(fresh)
    reopened_query = _value(fresh.get_by_placeholder("nocturnal Hylidae calls", exact=False))
    reopened_text = fresh.inner_text("body")
    maps = fresh.locator('[data-testid="stDeckGlJsonChart"]').count()
    fresh.screenshot(path=str(out / "ui-shared-link.png"))
    fresh.close()

    pg.goto(f"{url}/browse?family={family}")
    pg.get_by_text("Page (of", exact=False).wait_for(timeout=TIMEOUT_MS)
    _idle(pg)
    box = pg.get_by_role("textbox", name="Where (south, west, north, east)")
    box.fill("0, -180, 90, 180")  # the northern hemisphere
    box.press("Enter")
    pg.wait_for_url("**bbox=**", timeout=TIMEOUT_MS)
    _idle(pg)
    boxed_url, boxed_text = pg.url, pg.inner_text("body")

    link = pg.get_by_role("link", name="species page").first
    href = link.get_attribute("href") or ""
    pg.goto(href if href.startswith("http") else url + href)
    pg.get_by_text("Nearest species").wait_for(timeout=TIMEOUT_MS)
    _idle(pg)
    species_url, species_text = pg.url, pg.inner_text("body")

    pg.goto(f"{url}/search?q=photos&family={family}&target=Photos")
    pg.get_by_text("results · image").wait_for(timeout=TIMEOUT_MS)
    _idle(pg)
    with pg.expect_download(timeout=TIMEOUT_MS) as got:
        pg.get_by_role("button", name="Download photo").first.click()
    saved = out / "downloaded-photo"
    got.value.save_as(str(saved))
    return Links(copied, reopened_query, reopened_text, maps, boxed_url, boxed_text, species_url, species_text,
                 got.value.suggested_filename, saved)


if __name__ == "__main__":
    args = sys.argv[1:]
    fam = args[args.index("--family") + 1] if "--family" in args else "Hylidae"
    print(walk(args[0], Path(args[1]), Path(args[2]), fam).__dict__.keys())
