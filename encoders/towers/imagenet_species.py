"""ImageNet-1k classes that are one species (or a domestic form of one), by class index: how the
image head's answer reaches catalog species whose names differ from ImageNet's ("ice bear" is
Ursus maritimus). Classes above species (tree frog, gibbon, macaque) are not mapped; their label
is shown as it is. Indices follow torchvision's ImageNet order.
`imagenet_lineages` places every class: these species, else the taxon WordNet files the class's
noun under (timm lists each class's WordNet synset)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from catalog.names.lineage import Lookup, reference_lineage
from catalog.names.wordnet import WordNet

_ONE: dict[int, str] = {
    2: "Carcharodon carcharias", 7: "Gallus gallus", 8: "Gallus gallus", 9: "Struthio camelus",
    10: "Fringilla montifringilla", 11: "Carduelis carduelis", 12: "Haemorhous mexicanus", 14: "Passerina cyanea",
    15: "Turdus migratorius", 22: "Haliaeetus leucocephalus", 24: "Strix nebulosa",
    25: "Salamandra salamandra", 28: "Ambystoma maculatum", 29: "Ambystoma mexicanum",
    30: "Lithobates catesbeianus", 34: "Dermochelys coriacea", 45: "Heloderma suspectum",
    46: "Lacerta viridis", 48: "Varanus komodoensis", 49: "Crocodylus niloticus",
    50: "Alligator mississippiensis", 63: "Naja naja", 64: "Dendroaspis viridis", 75: "Latrodectus mactans",
    84: "Pavo cristatus", 87: "Psittacus erithacus", 89: "Cacatua galerita", 97: "Anas platyrhynchos",
    98: "Mergus serrator", 100: "Cygnus atratus", 103: "Ornithorhynchus anatinus", 105: "Phascolarctos cinereus",
    106: "Vombatus ursinus", 118: "Metacarcinus magister", 122: "Homarus americanus",
    127: "Ciconia ciconia", 128: "Ciconia nigra", 131: "Egretta caerulea", 132: "Ardea alba",
    135: "Aramus guarauna", 136: "Porphyrio porphyrio", 137: "Fulica americana", 139: "Arenaria interpres",
    140: "Calidris alpina", 141: "Tringa totanus", 145: "Aptenodytes patagonicus",
    147: "Eschrichtius robustus", 148: "Orcinus orca", 149: "Dugong dugon",
    269: "Canis lupus", 270: "Canis lupus", 271: "Canis rufus", 272: "Canis latrans", 274: "Cuon alpinus",
    275: "Lycaon pictus", 277: "Vulpes vulpes", 278: "Vulpes macrotis", 279: "Vulpes lagopus",
    280: "Urocyon cinereoargenteus", 286: "Puma concolor", 288: "Panthera pardus", 289: "Panthera uncia",
    290: "Panthera onca", 291: "Panthera leo", 292: "Panthera tigris", 293: "Acinonyx jubatus",
    294: "Ursus arctos", 295: "Ursus americanus", 296: "Ursus maritimus", 297: "Melursus ursinus",
    299: "Suricata suricatta", 309: "Apis mellifera", 323: "Danaus plexippus", 335: "Sciurus niger",
    337: "Castor canadensis", 338: "Cavia porcellus", 339: "Equus caballus", 341: "Sus scrofa", 342: "Sus scrofa",
    344: "Hippopotamus amphibius", 345: "Bos taurus", 346: "Bubalus bubalis", 347: "Bison bison", 348: "Ovis aries",
    349: "Ovis canadensis", 350: "Capra ibex", 352: "Aepyceros melampus", 354: "Camelus dromedarius",
    355: "Lama glama", 359: "Mustela nigripes", 364: "Bradypus variegatus", 366: "Gorilla gorilla",
    367: "Pan troglodytes", 369: "Symphalangus syndactylus", 371: "Erythrocebus patas", 376: "Nasalis larvatus",
    383: "Lemur catta", 384: "Indri indri", 385: "Elephas maximus", 386: "Loxodonta africana",
    387: "Ailurus fulgens", 388: "Ailuropoda melanoleuca",
}
DOGS = range(151, 269)  # Chihuahua .. Mexican hairless: breeds of one species
CATS = range(281, 286)  # tabby .. Egyptian cat


def species_of(index: int) -> str | None:
    """The species an ImageNet class is, or None for a class above species (or not an animal)."""
    if index in DOGS:
        return "Canis familiaris"
    if index in CATS:
        return "Felis catus"
    return _ONE.get(index)


@cache
def imagenet_synsets() -> tuple[int, ...]:
    """WordNet 3.0 noun offsets of the 1000 ImageNet classes, in class order (timm's list; empty
    when timm is not installed)."""
    try:
        text = resources.files("timm").joinpath("data/_info/imagenet_synsets.txt").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return ()
    return tuple(int(line.strip()[1:]) for line in text.splitlines() if line.strip())


def imagenet_lineages(wordnet: WordNet | None, lookup: Lookup | None = None) -> list[dict[str, str]]:
    """Per ImageNet class, the lineage it stands for: one species (`encoders.towers.imagenet_species`),
    else the taxon WordNet files the class's noun under; {} for a class that is no animal taxon or a
    group of several taxa. `lookup` places a taxon (default: `reference_lineage`)."""
    def place(rank: str, name: str) -> dict[str, str]:
        return lookup(rank, name) if lookup is not None else reference_lineage(wordnet, rank, name)

    offsets = imagenet_synsets()
    out = []
    for i in range(1000):
        species = species_of(i)
        if species:
            out.append(place("species", species) or {"species": species})
            continue
        t = wordnet.taxon_of_synset(offsets[i]) if wordnet is not None and len(offsets) == 1000 else None
        if t is None or t.expanded:
            out.append({})
            continue
        known = [lin for n in t.names if len(lin := place(t.rank, n)) > 1]
        out.append(known[0] if known else {t.rank: t.names[0]})
    return out
