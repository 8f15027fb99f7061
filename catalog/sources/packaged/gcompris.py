"""Real animal sounds and photos from Debian's `gcompris-qt-data` (GCompris, the educational suite).

Its "explore farm animals" activity carries recordings and photos of eight domestic species,
"explore world animals" and "erase" photos of wild ones; each bundle's README names every file's
author, licence and source (Wikimedia Commons pages whose titles name the species), and the
package's Debian copyright file covers the rest. This module fetches the .deb by name
(`apt-get download`), unpacks it (`dpkg-deb -x`), reads the Qt resource bundles and writes
    <out>/media/<bundle>-<file>   and   <out>/metadata.csv
with scientificName, vernacularName, class, order, family, genus, license, rightsHolder and
references (the source page). The species of each file is our reading of its source page's
title, written below; files whose source does not name a species are left out.

    python -m catalog.sources.packaged.gcompris OUT [--deb FILE]
"""

from __future__ import annotations

import csv
import fnmatch
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import NotFoundError, VitaError
from catalog.licenses import normalise_license
from catalog.sources.packaged import builder_main
from catalog.sources.packaged.rcc import read_rcc

PACKAGE = "gcompris-qt-data"
RCC_DIR = "usr/share/gcompris-qt/rcc"
COPYRIGHT = f"usr/share/doc/{PACKAGE}/copyright"

# scientific name, common name, class, order, family, genus
Taxon = tuple[str, str, str, str, str, str]
_T: dict[str, Taxon] = {
    "cat": ("Felis catus", "Domestic Cat", "Mammalia", "Carnivora", "Felidae", "Felis"),
    "chicken": ("Gallus gallus", "Red Junglefowl", "Aves", "Galliformes", "Phasianidae", "Gallus"),
    "cow": ("Bos taurus", "Cattle", "Mammalia", "Artiodactyla", "Bovidae", "Bos"),
    "dog": ("Canis familiaris", "Dog", "Mammalia", "Carnivora", "Canidae", "Canis"),
    "duck": ("Anas platyrhynchos", "Mallard", "Aves", "Anseriformes", "Anatidae", "Anas"),
    "horse": ("Equus caballus", "Horse", "Mammalia", "Perissodactyla", "Equidae", "Equus"),
    "pig": ("Sus scrofa", "Wild Boar", "Mammalia", "Artiodactyla", "Suidae", "Sus"),
    "sheep": ("Ovis aries", "Sheep", "Mammalia", "Artiodactyla", "Bovidae", "Ovis"),
    "goat": ("Capra hircus", "Domestic Goat", "Mammalia", "Artiodactyla", "Bovidae", "Capra"),
    "bison": ("Bison bison", "American Bison", "Mammalia", "Artiodactyla", "Bovidae", "Bison"),
    "crocodile": ("Crocodylus porosus", "Saltwater Crocodile", "Reptilia", "Crocodylia", "Crocodylidae", "Crocodylus"),
    "komodo": ("Varanus komodoensis", "Komodo Dragon", "Reptilia", "Squamata", "Varanidae", "Varanus"),
    "giraffe": ("Giraffa camelopardalis", "Giraffe", "Mammalia", "Artiodactyla", "Giraffidae", "Giraffa"),
    "hedgehog": ("Erinaceus roumanicus", "Northern White-breasted Hedgehog", "Mammalia", "Eulipotyphla",
                 "Erinaceidae", "Erinaceus"),
    "jaguar": ("Panthera onca", "Jaguar", "Mammalia", "Carnivora", "Felidae", "Panthera"),
    "kangaroo": ("Macropus giganteus", "Eastern Grey Kangaroo", "Mammalia", "Diprotodontia", "Macropodidae", "Macropus"),
    "koala": ("Phascolarctos cinereus", "Koala", "Mammalia", "Diprotodontia", "Phascolarctidae", "Phascolarctos"),
    "moose": ("Alces alces", "Moose", "Mammalia", "Artiodactyla", "Cervidae", "Alces"),
    "narwhal": ("Monodon monoceros", "Narwhal", "Mammalia", "Artiodactyla", "Monodontidae", "Monodon"),
    "panda": ("Ailuropoda melanoleuca", "Giant Panda", "Mammalia", "Carnivora", "Ursidae", "Ailuropoda"),
    "polar_bear": ("Ursus maritimus", "Polar Bear", "Mammalia", "Carnivora", "Ursidae", "Ursus"),
    "macaw": ("Ara macao", "Scarlet Macaw", "Aves", "Psittaciformes", "Psittacidae", "Ara"),
    "alpaca": ("Vicugna pacos", "Alpaca", "Mammalia", "Artiodactyla", "Camelidae", "Vicugna"),
    "bee": ("Apis mellifera", "Western Honey Bee", "Insecta", "Hymenoptera", "Apidae", "Apis"),
    "butterfly": ("Parantica aglea", "Glassy Tiger", "Insecta", "Lepidoptera", "Nymphalidae", "Parantica"),
    "camel": ("Camelus bactrianus", "Bactrian Camel", "Mammalia", "Artiodactyla", "Camelidae", "Camelus"),
    "swallowtail": ("Papilio machaon", "Old World Swallowtail", "Insecta", "Lepidoptera", "Papilionidae", "Papilio"),
    "chameleon": ("Chamaeleo chamaeleon", "Common Chameleon", "Reptilia", "Squamata", "Chamaeleonidae", "Chamaeleo"),
    "cheetah": ("Acinonyx jubatus", "Cheetah", "Mammalia", "Carnivora", "Felidae", "Acinonyx"),
    "crab": ("Grapsus grapsus", "Sally Lightfoot Crab", "Malacostraca", "Decapoda", "Grapsidae", "Grapsus"),
    "flying_fox": ("Pteropus poliocephalus", "Grey-headed Flying Fox", "Mammalia", "Chiroptera", "Pteropodidae", "Pteropus"),
    "gibbon": ("Hylobates lar", "Lar Gibbon", "Mammalia", "Primates", "Hylobatidae", "Hylobates"),
    "gorilla": ("Gorilla beringei", "Eastern Gorilla", "Mammalia", "Primates", "Hominidae", "Gorilla"),
    "goose": ("Anser anser", "Greylag Goose", "Aves", "Anseriformes", "Anatidae", "Anser"),
    "heron": ("Ardea purpurea", "Purple Heron", "Aves", "Pelecaniformes", "Ardeidae", "Ardea"),
    "kingfisher": ("Alcedo atthis", "Common Kingfisher", "Aves", "Coraciiformes", "Alcedinidae", "Alcedo"),
    "proboscis": ("Nasalis larvatus", "Proboscis Monkey", "Mammalia", "Primates", "Cercopithecidae", "Nasalis"),
    "macaque": ("Macaca radiata", "Bonnet Macaque", "Mammalia", "Primates", "Cercopithecidae", "Macaca"),
    "meerkat": ("Suricata suricatta", "Meerkat", "Mammalia", "Carnivora", "Herpestidae", "Suricata"),
    "harrier": ("Circus hudsonius", "Northern Harrier", "Aves", "Accipitriformes", "Accipitridae", "Circus"),
    "ibex": ("Capra nubiana", "Nubian Ibex", "Mammalia", "Artiodactyla", "Bovidae", "Capra"),
    "chinstrap": ("Pygoscelis antarcticus", "Chinstrap Penguin", "Aves", "Sphenisciformes", "Spheniscidae", "Pygoscelis"),
    "red_panda": ("Ailurus fulgens", "Red Panda", "Mammalia", "Carnivora", "Ailuridae", "Ailurus"),
    "rhino": ("Rhinoceros unicornis", "Indian Rhinoceros", "Mammalia", "Perissodactyla", "Rhinocerotidae", "Rhinoceros"),
}

# (bundle, file) -> species key. Farm: the recordings' animals; photos: their Commons source titles.
FILES: dict[tuple[str, str], str] = {
    **{("explore_farm_animals", f"{a}.{ext}"): a for a in ("cat", "cow", "dog", "duck", "horse", "pig", "sheep")
       for ext in ("ogg", "webp")},
    ("explore_farm_animals", "chickens.ogg"): "chicken",
    ("explore_farm_animals", "chicken.webp"): "chicken",
    **{("explore_world_animals", f"{a}.webp"): a for a in ("bison", "crocodile", "giraffe", "hedgehog", "jaguar",
                                                            "kangaroo", "koala", "moose", "narwhal", "panda", "polar_bear")},
    ("explore_world_animals", "dragon.webp"): "komodo",
    ("explore_world_animals", "scarlet_macaw.webp"): "macaw",
    **{("erase", f"{a}.webp"): a for a in ("alpaca", "bee", "butterfly", "cheetah", "crab", "flying_fox", "gibbon",
                                            "goat", "gorilla", "heron", "kingfisher", "macaque", "red_panda")},
    ("erase", "camels.webp"): "camel",
    ("erase", "caterpillar.webp"): "swallowtail",
    ("erase", "chamaeleon.webp"): "chameleon",
    ("erase", "gosling.webp"): "goose",
    ("erase", "long_nosed_monkey.webp"): "proboscis",
    ("erase", "meerkats.webp"): "meerkat",
    ("erase", "northern_harrier.webp"): "harrier",
    ("erase", "nubian_ibex.webp"): "ibex",
    ("erase", "penguin.webp"): "chinstrap",
    ("erase", "rhinoceros.webp"): "rhino",
    ("erase", "horse.webp"): "horse",
    ("erase", "kitten.webp"): "cat",
    ("erase", "calf.webp"): "cow",
}
COLUMNS = ("file", "catalogNumber", "scientificName", "vernacularName", "class", "order", "family", "genus",
           "license", "rightsHolder", "references")


class PackageError(VitaError, RuntimeError):
    """The package could not be fetched or unpacked (no apt, no network to the mirror, ...)."""


@dataclass(frozen=True)
class Credit:
    rights_holder: str | None
    license: str | None
    source: str | None


def readme_credits(text: str) -> dict[str, Credit]:
    """A bundle README's stanzas (Copyright / License / Source / Files, any order) by file name."""
    out: dict[str, Credit] = {}
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = None
        for line in stanza.splitlines():
            m = re.match(r"^(\w+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields.setdefault(key, [])
                if m.group(2).strip():
                    fields[key].append(m.group(2).strip())
            elif key is not None and line.strip():
                fields[key].append(line.strip())
        credit = Credit(" ".join(fields.get("copyright", [])) or None, " ".join(fields.get("license", [])) or None,
                        " ".join(fields.get("source", [])) or None)
        for name in fields.get("files", []):
            out[name] = credit
    return out


def debian_credits(text: str) -> list[tuple[list[str], Credit]]:
    """The DEP-5 copyright file's Files stanzas (globs and their credit), in file order."""
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        m = re.search(r"^Files:(.*?)(?=^\S)", stanza + "\nEND", re.S | re.M)
        if not m:
            continue
        lic = re.search(r"^License:\s*(.+)$", stanza, re.M)
        holder = re.search(r"^Copyright:\s*(.+)$", stanza, re.M)
        out.append((m.group(1).split(), Credit(holder.group(1).strip() if holder else None,
                                              lic.group(1).strip() if lic else None, None)))
    return out


def debian_credit(stanzas: list[tuple[list[str], Credit]], path: str) -> Credit | None:
    """The last stanza whose glob matches the path (DEP-5's rule); an image is matched on its stem,
    since the package lists the .jpg it converted to .webp."""
    stem = path.rsplit(".", 1)[0]
    found = None
    for globs, credit in stanzas:
        if any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(stem, g.rsplit(".", 1)[0]) for g in globs):
            found = credit
    return found


def fetch_deb(into: Path, package: str = PACKAGE) -> Path:
    """`apt-get download PACKAGE` into a directory; returns the .deb."""
    if shutil.which("apt-get") is None:
        raise PackageError(f"apt-get is not available here; pass --deb with a downloaded {package} .deb")
    into.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["apt-get", "download", package], cwd=into, capture_output=True, text=True, timeout=600)
    debs = sorted(into.glob(f"{package}_*.deb"))
    if done.returncode != 0 or not debs:
        raise PackageError(f"apt-get download {package} failed: {done.stderr.strip()[-400:]}")
    return debs[-1]


def cached_deb(cache: Path, package: str = PACKAGE) -> Path:
    """The package's .deb from `cache`, fetched into it the first time."""
    found = sorted(cache.glob(f"{package}_*.deb"))
    return found[-1] if found else fetch_deb(cache, package)


def unpack(deb: Path, into: Path, copyright_path: str) -> tuple[Path, list[tuple[list[str], Credit]]]:
    """The .deb's files under `into` (dpkg-deb -x) and its DEP-5 copyright stanzas."""
    if not deb.is_file():
        raise NotFoundError(f"{deb}: no such .deb")
    done = subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], capture_output=True, text=True)
    if done.returncode != 0:
        raise PackageError(f"{deb}: dpkg-deb -x failed: {done.stderr.strip()[-400:]}")
    copyright_file = into / copyright_path
    return into, debian_credits(copyright_file.read_text(encoding="utf-8")) if copyright_file.is_file() else []


def build(out: Path, deb: Path | None = None) -> Path:
    """Write the folder and its metadata.csv; returns the CSV's path."""
    with tempfile.TemporaryDirectory() as tmp:
        deb = deb or fetch_deb(Path(tmp) / "deb")
        root, stanzas = unpack(deb, Path(tmp) / "x", COPYRIGHT)
        media = out / "media"
        media.mkdir(parents=True, exist_ok=True)
        rows = []
        for bundle in sorted({b for b, _ in FILES}):
            rcc = root / RCC_DIR / f"{bundle}.rcc"
            if not rcc.is_file():
                raise PackageError(f"{deb}: no {RCC_DIR}/{bundle}.rcc (another GCompris version?)")
            entries = dict(read_rcc(rcc))
            readme = next((v.decode("utf-8", "replace") for k, v in entries.items() if k.endswith("/README")), "")
            credits = readme_credits(readme)
            for path, blob in sorted(entries.items()):
                name = path.rsplit("/", 1)[-1]
                key = FILES.get((bundle, name))
                if key is None:
                    continue
                credit = credits.get(name) or debian_credit(stanzas, path.removeprefix("gcompris/")) or Credit(None, None, None)
                target = media / f"{bundle}-{name}"
                target.write_bytes(blob)
                sci, common, klass, order, family, genus = _T[key]
                rows.append({"file": f"media/{target.name}", "catalogNumber": f"gcompris:{bundle}/{name}",
                             "scientificName": sci, "vernacularName": common, "class": klass, "order": order,
                             "family": family, "genus": genus, "license": normalise_license(credit.license) or "",
                             "rightsHolder": credit.rights_holder or "", "references": credit.source or ""})
    csv_path = out / "metadata.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def main(argv: list[str]) -> int:
    return builder_main(build, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
