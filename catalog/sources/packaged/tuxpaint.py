"""Real animal sounds and pictures inside Debian's `tuxpaint-stamps-default` (GPL-2).

Tux Paint's animal stamps are pictures (PNG cut-outs, most of them photographs), some with the
animal's sound (an OGG beside the picture; `_desc` files are spoken captions and are left out)
and an English caption ("A blackbird.", "An owl."). The caption names the animal as people do,
so it is resolved to a taxon through `catalog.names` (the eBird/Clements checklist, WordNet): most
resolve to a genus, family or order ("owl" -> order Strigiformes), and the items are written as
identified at that rank, with the lineage up to the class from the same sources. Captions that
resolve to nothing, to several taxa, or to a taxon with no lineage up to its class are left out
and listed in `skipped.csv` beside the metadata. Cartoon stamps are left out (drawings).

    python -m catalog.sources.packaged.tuxpaint OUT [--deb FILE]   # OUT/media + OUT/metadata.csv
"""

from __future__ import annotations

import csv
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from catalog.licenses import normalise_license
from catalog.names import NameResolver
from catalog.names.birds import bird_taxonomy
from catalog.names.lineage import reference_lineage
from catalog.names.wordnet import WordNet
from catalog.sources.packaged import builder_main
from catalog.sources.packaged.gcompris import cached_deb, debian_credit, fetch_deb, unpack
from catalog.taxonomy import RANKS

PACKAGE = "tuxpaint-stamps-default"
STAMPS = "usr/share/tuxpaint/stamps/animals"
COPYRIGHT = f"usr/share/doc/{PACKAGE}/copyright"
COLUMNS = ("file", "catalogNumber", "scientificName", "taxonRank", "vernacularName", "class", "order", "family",
           "genus", "license", "rightsHolder", "references")
_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.I)


@dataclass(frozen=True)
class Stamp:
    key: str  # path below the animals folder, without extension: "birds/blackbird"
    picture: Path
    sound: Path | None
    caption: str  # "blackbird"


def caption_of(txt: Path) -> str:
    """The English caption's words: 'A blackbird.' -> 'blackbird'."""
    first = txt.read_text(encoding="utf-8", errors="replace").splitlines()[0] if txt.is_file() else ""
    return _ARTICLE.sub("", first.strip().rstrip(".!").strip()).lower()


def stamps(root: Path) -> list[Stamp]:
    """Every animal stamp with a picture and a caption, cartoons left out."""
    out = []
    for png in sorted(root.rglob("*.png")):
        rel = png.relative_to(root)
        if "cartoon" in rel.parts or png.stem.endswith("_mirror"):
            continue
        sound = png.with_suffix(".ogg")
        caption = caption_of(png.with_suffix(".txt"))
        if caption:
            out.append(Stamp(str(rel.with_suffix("")), png, sound if sound.is_file() else None, caption))
    return out


def resolve(names: NameResolver, wordnet: WordNet | None, caption: str) -> tuple[dict[str, str], str] | str:
    """(lineage, rank) of a caption's one taxon, or why it has none. An English noun phrase ends in
    its head noun: "colorful rooster", "two wild boars" are tried whole, then from each later word."""
    words = re.sub(r"\(.*?\)", " ", caption).split()
    res = next((r for i in range(len(words)) if (r := names.resolve(" ".join(words[i:]))) is not None), None)
    if res is None:
        return "no source knows the name"
    if res.ambiguous or len(res.meanings[0]) != 1:
        return "names several taxa: " + "; ".join(" or ".join(t.label() for t in m) for m in res.meanings)
    ref = res.meanings[0][0]
    lineage = reference_lineage(wordnet, ref.rank, ref.name)
    if "class" not in lineage:
        return f"{ref.label()}: no lineage up to its class"
    return lineage, ref.rank


def build(out: Path, deb: Path | None = None) -> Path:
    """Write OUT/media, OUT/metadata.csv (Darwin Core, with taxonRank) and OUT/skipped.csv; returns the metadata's path."""
    wordnet = WordNet.find()
    names = NameResolver([], wordnet, bird_taxonomy())
    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        deb = deb or fetch_deb(Path(tmp) / "deb", PACKAGE)
        root, stanzas = unpack(deb, Path(tmp) / "x", COPYRIGHT)
        media = out / "media"
        media.mkdir(parents=True, exist_ok=True)
        for stamp in stamps(root / STAMPS):
            found = resolve(names, wordnet, stamp.caption)
            if isinstance(found, str):
                skipped.append({"stamp": stamp.key, "caption": stamp.caption, "reason": found})
                continue
            lineage, rank = found
            for src in (stamp.picture, stamp.sound):
                if src is None:
                    continue
                credit = debian_credit(stanzas, str(src.relative_to(root)))
                target = media / f"tuxpaint-{stamp.key.replace('/', '-')}{src.suffix}"
                target.write_bytes(src.read_bytes())
                rows.append({"file": f"media/{target.name}", "catalogNumber": f"tuxpaint:{stamp.key}{src.suffix}",
                             "scientificName": lineage[rank], "taxonRank": rank, "vernacularName": stamp.caption,
                             **{r: lineage.get(r, "") for r in RANKS[:-1] if RANKS.index(r) < RANKS.index(rank)},
                             "license": normalise_license(credit.license if credit else None) or "",
                             "rightsHolder": (credit.rights_holder if credit else None) or "",
                             "references": f"{PACKAGE}: {STAMPS}/{stamp.key}{src.suffix}"})
    csv_path = out / "metadata.csv"
    _write(csv_path, rows, COLUMNS)
    _write(out / "skipped.csv", skipped, ("stamp", "caption", "reason"))
    return csv_path


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)


def cached(cache: Path) -> Path:
    """The package's .deb from `cache`, fetched into it the first time."""
    return cached_deb(cache, PACKAGE)


def main(argv: list[str]) -> int:
    return builder_main(build, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
