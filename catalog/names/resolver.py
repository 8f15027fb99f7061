"""One resolver for the names people use, at every rank: "Gray Treefrog", "hyla versicolor",
"owls", "tree frogs", "Strigidae", "mallard".

Sources, most specific first: the catalog's own taxa (scientific names at every rank, common
names), the eBird/Clements bird checklist (`catalog.names.birds`), and WordNet's animal nouns
(`catalog.names.wordnet`). Names are matched whole (never inside another word), in any case,
singular or plural. A name with several meanings comes back with all of them as choices; the
caller decides, and says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.names.birds import BirdTaxonomy, bird_taxonomy
from catalog.names.wordnet import WordNet
from catalog.tables import Taxon
from catalog.taxonomy import RANKS, normalise_scientific_name

#: Plural -> singular rules for the last word of a common name ("tawny owls", "gray treefrogs").
_PLURALS: tuple[tuple[str, str], ...] = (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ses", "s"),
                                         ("men", "man"), ("s", ""))
NEAR_KEPT = 4096  # close-spelling answers a resolver keeps
_CLOSE = 0.88  # difflib ratio: "grey treefrog" ~ "gray treefrog" (0.92), "great tit" !~ "great egret"
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass(frozen=True)
class TaxonRef:
    """A taxon a name stands for: its rank and scientific name, and whether the catalog holds it."""

    rank: str
    name: str
    in_catalog: bool = True
    common_name: str | None = None

    def label(self) -> str:
        common = f" ({self.common_name})" if self.common_name and self.rank == "species" else ""
        return f"{self.rank} {self.name}{common}"


#: One meaning of a name: the taxa it covers (several when WordNet's group spans several of our taxa).
Meaning = tuple[TaxonRef, ...]


@dataclass
class Resolution:
    phrase: str
    source: str  # catalog | birds | wordnet | close (a catalog name one letter or so off)
    meanings: list[Meaning] = field(default_factory=list)

    @property
    def ambiguous(self) -> bool:
        return len(self.meanings) > 1

    def held(self) -> list[Meaning]:
        """The meanings of which the catalog holds at least one taxon."""
        return [m for m in self.meanings if any(t.in_catalog for t in m)]


def singulars(phrase: str) -> list[str]:
    """'tawny owls' -> ['tawny owl']; the forms a plural may come from (its last word singular)."""
    head, _, last = phrase.rpartition(" ")
    out = []
    for suffix, repl in _PLURALS:
        if last.endswith(suffix) and len(last) > len(suffix) + 2:
            form = (head + " " if head else "") + last[: len(last) - len(suffix)] + repl
            if form not in out:
                out.append(form)
    return out


class NameResolver:
    """Built once per catalog state (taxa only: a few thousand rows); WordNet and the bird checklist
    are read on first use and shared by every resolver of the process."""

    def __init__(self, taxa: list[tuple[str, str, str | None, tuple[str, ...]]],
                 wordnet: WordNet | None = None, birds: BirdTaxonomy | None = None) -> None:
        """`taxa`: (rank, name, common name, lineage names broad to narrow, itself included)."""
        self.wordnet, self.birds = wordnet, birds
        self._by_name: dict[str, list[TaxonRef]] = {}
        self._by_common: dict[str, list[TaxonRef]] = {}
        self._held: dict[tuple[str, str], TaxonRef] = {}
        self._lineage: dict[tuple[str, str], tuple[str, ...]] = {}
        for rank, name, common, lineage in taxa:
            ref = TaxonRef(rank, name, True, common)
            self._held[(rank, name)] = ref
            self._lineage[(rank, name)] = lineage
            self._by_name.setdefault(name.lower(), []).append(ref)
            if common:
                self._by_common.setdefault(common.lower(), []).append(ref)
        self._spellings: dict[int, list[str]] = {}  # names of two words or more, by length
        for n in (*self._by_name, *self._by_common):
            if " " in n:
                self._spellings.setdefault(len(n), []).append(n)
        self._near: dict[str, str | None] = {}  # a form -> its close spelling, found once
        self._entries = sorted(self._held.values(), key=lambda t: (RANKS.index(t.rank) if t.rank in RANKS else 9,
                                                                    t.name))

    @classmethod
    def from_catalog(cls, session: Session, wordnet_dir: Path | None = None) -> NameResolver:
        rows = session.scalars(select(Taxon)).all()
        taxa = [(t.rank, t.name, t.common_name, tuple(t.lineage_names())) for t in rows]
        return cls(taxa, WordNet.find(wordnet_dir), bird_taxonomy())

    # ------------------------------------------------------------ resolving

    def resolve(self, phrase: str) -> Resolution | None:
        """What a name stands for, or None when no source knows it."""
        key = " ".join(_WORD.findall(phrase.lower()))
        if not key:
            return None
        for form in (key, *singulars(key)):
            hits = self._by_name.get(form, []) + [t for t in self._by_common.get(form, [])
                                                   if t not in self._by_name.get(form, [])]
            if hits:
                return Resolution(phrase, "catalog", [(t,) for t in hits])
        found = self._birds(key)
        if found is not None:
            return Resolution(phrase, "birds", [found])
        return self._wordnet(phrase, key) or self._close(phrase, key)

    def _close(self, phrase: str, key: str) -> Resolution | None:
        """A misspelt catalog name ("grey treefrog", "hyla versicolour"): only names of two words or
        more, and only very close ones, so that no ordinary word is read as a taxon."""
        if " " not in key or len(key) < 8:
            return None
        for form in (key, *singulars(key)):
            near = self._nearest(form)
            if near:
                hits = self._by_name.get(near) or self._by_common.get(near, [])
                return Resolution(phrase, "close", [(t,) for t in hits])
        return None

    def _nearest(self, form: str) -> str | None:
        """The one spelling within `_CLOSE` of `form`. Only names whose length allows that ratio are
        compared (a ratio of at least c needs the shorter at least c / (2 - c) of the longer), and the
        answer is kept: the resolver is fixed for its catalog state, and queries repeat their words."""
        if form not in self._near:
            lo, hi = len(form) * _CLOSE / (2 - _CLOSE), len(form) * (2 - _CLOSE) / _CLOSE
            pool = [n for size, names in self._spellings.items() if lo <= size <= hi for n in names]
            found = difflib.get_close_matches(form, pool, n=1, cutoff=_CLOSE)
            if len(self._near) >= NEAR_KEPT:
                self._near.pop(next(iter(self._near)))  # the oldest answer goes first
            self._near[form] = found[0] if found else None
        return self._near[form]

    def _birds(self, key: str) -> Meaning | None:
        if self.birds is None:
            return None
        for form in (key, *singulars(key)):
            sci = self.birds.species_for(form) or (normalise_scientific_name(form)
                                                    if normalise_scientific_name(form) in self.birds.by_scientific
                                                    else None)
            if sci:
                return (self._ref("species", sci, self.birds.common_name(sci)),)
        if key in self.birds.higher:
            return (self._ref(*self.birds.higher[key]),)
        return None

    def _wordnet(self, phrase: str, key: str) -> Resolution | None:
        if self.wordnet is None:
            return None
        meanings: list[Meaning] = []
        for wt in self.wordnet.taxa(key):
            if wt.rank not in RANKS:
                continue
            held = tuple(self._held[(wt.rank, n)] for n in wt.names if (wt.rank, n) in self._held)
            if held:
                meaning = held  # the catalog's spelling among WordNet's synonyms, or its members of a group
            elif wt.expanded:
                meaning = tuple(self._ref(wt.rank, n) for n in wt.names)
            else:
                meaning = (self._ref(wt.rank, wt.names[0]),)
            if meaning not in meanings:
                meanings.append(meaning)
        if not meanings:
            return None
        return Resolution(phrase, "wordnet", self._narrowest(meanings))

    def _ref(self, rank: str, name: str, common: str | None = None) -> TaxonRef:
        return self._held.get((rank, name)) or TaxonRef(rank, name, False, common)

    def _narrowest(self, meanings: list[Meaning]) -> list[Meaning]:
        """Drop a meaning that contains another ("tree frog": family Hylidae, and the order Anura
        of a looser sense): the narrower names what was typed."""
        def inside(a: Meaning, b: Meaning) -> bool:
            return a != b and all(any(self._within(x, y) for y in b) for x in a)
        return [m for m in meanings if not any(inside(other, m) for other in meanings)]

    def _within(self, x: TaxonRef, y: TaxonRef) -> bool:
        lineage = self._lineage.get((x.rank, x.name))
        if lineage is None and x.rank == "species" and self.birds is not None:
            bird = self.birds.lineage(x.name)
            lineage = bird.names() if bird else None
        return bool(lineage) and y.name in (lineage or ()) and (x.rank, x.name) != (y.rank, y.name)

    def common_names(self) -> dict[str, str]:
        """Scientific name -> common name, for the catalog's taxa that have one."""
        return {t.name: t.common_name for t in self._entries if t.common_name}

    def held_name(self, rank: str, name: str) -> str | None:
        """The catalog's spelling of a taxon it holds at this rank ("strigidae" -> "Strigidae"), else None."""
        if (rank, name) in self._held:
            return name
        return next((t.name for t in self._by_name.get(name.strip().lower(), []) if t.rank == rank), None)

    def lineage_at(self, rank: str, name: str) -> dict[str, str] | None:
        """A held taxon's lineage as rank -> name, class down to the taxon; None when not held."""
        names = self._lineage.get((rank, name))
        if names is None or rank not in RANKS:
            return None
        depth = RANKS.index(rank) + 1
        return dict(zip(RANKS[:depth], names)) if len(names) == depth else {rank: name}

    # ------------------------------------------------------------ type-ahead

    def suggest(self, text: str, limit: int = 20, ranks: tuple[str, ...] = RANKS) -> list[TaxonRef]:
        """Catalog taxa for a picker: what the whole text resolves to, then every taxon with a word of
        its scientific or common name starting with the text ("tawny" -> Tawny Owl; "owl" -> the order
        Strigiformes, then the owls by name; never Anaxyrus fowleri)."""
        key = " ".join(_WORD.findall(text.lower()))
        if not key:
            return [t for t in self._entries if t.rank in ranks][:limit]
        out: list[TaxonRef] = []
        res = self.resolve(key)
        for meaning in res.meanings if res else []:
            out.extend(t for t in meaning if t.in_catalog and t.rank in ranks and t not in out)
        starts = re.compile(r"(?:^|[\s'-])" + re.escape(key))
        forms = [re.compile(r"(?:^|[\s'-])" + re.escape(f) + r"\b") for f in singulars(key)]
        for t in self._entries:
            if t.rank in ranks and t not in out and any(
                    p.search(s.lower()) for s in (t.name, t.common_name or "") for p in (starts, *forms)):
                out.append(t)
        return out[:limit]
