"""Animal nouns -> taxa, read from the Princeton WordNet 3.0 database files (Debian `wordnet-base`).

WordNet files each animal noun under the taxon it belongs to: "owl" has the member holonym
"order Strigiformes", "duck" "family Anatidae", "barn owl" "genus Tyto". A noun without one
(WordNet's "frog") shares a derived adjective with its taxon ("anuran": order Anura), or inherits
its hypernym's ("tree frog" -> "frog"). Taxa at ranks between ours (suborder Pinnipedia, subfamily
Anserinae) are expanded to their members at the next rank we keep, so a filter stays exact.

Only the noun and adjective data and the noun index are read: the index once, synsets by seeking to
their byte offset, so a lookup costs a few reads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Where Debian's `wordnet-base` puts the database (the WNHOME variable of WordNet's own tools wins).
DEFAULT_DIRS: tuple[str, ...] = ("/usr/share/wordnet",)
#: WordNet's rank words for the ranks VITA keeps (its lemmas read "order_Strigiformes").
KEPT_RANKS: tuple[str, ...] = ("class", "order", "family", "genus")
#: Ranks between or below ours: such a taxon is expanded to its members at the next kept rank.
SUB_RANKS: tuple[str, ...] = ("subclass", "superorder", "suborder", "infraorder", "superfamily", "subfamily",
                              "tribe", "subgenus")
_TOO_BROAD = ("kingdom", "subkingdom", "phylum", "subphylum", "superphylum", "division", "superclass")
#: WordNet morphy's detachment rules for nouns (plural -> singular), tried after the exceptions list.
_NOUN_RULES: tuple[tuple[str, str], ...] = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
                                           ("shes", "sh"), ("men", "man"), ("ies", "y"))
_MAX_HYPERNYM_STEPS = 3
_FEW = 6
_TAXON_LINE = re.compile(r"^\d{8} \d\d n [0-9a-f]{2} \S+ \d (?:\S+ \d )*(?:class|order|family|genus)_")


@dataclass(frozen=True)
class Synset:
    offset: int
    pos: str
    lemmas: tuple[str, ...]  # as written in WordNet, underscores for spaces
    pointers: tuple[tuple[str, int, str], ...]  # (symbol, offset, pos)
    gloss: str

    def targets(self, symbol: str, pos: str = "n") -> list[int]:
        return [o for s, o, p in self.pointers if s == symbol and p == pos]

    def rank_name(self) -> tuple[str, list[str]] | None:
        """('order', ['Salientia', 'Anura', 'Batrachia']) for a taxon synset, else None."""
        rank, names = None, []
        for lemma in self.lemmas:
            head, _, rest = lemma.partition("_")
            if rest and head in (*KEPT_RANKS, *SUB_RANKS, *_TOO_BROAD) and "_" not in rest:
                rank = head
                names.append(rest)
        return (rank, names) if rank else None


@dataclass(frozen=True)
class WordNetTaxon:
    """What an animal noun names: a rank and the names WordNet gives it (synonyms; or several
    members when a taxon between our ranks was expanded), with the sense's gloss."""

    rank: str
    names: tuple[str, ...]
    gloss: str
    expanded: bool = False  # names are the members of a taxon at a rank between ours
    offset: int = 0  # the taxon's synset


class WordNet:
    """The noun side of WordNet: lemma lookup with plurals, synsets, and the taxon of an animal noun."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, tuple[int, ...]] = {}
        with open(root / "index.noun", encoding="utf-8") as f:
            for line in f:
                if line.startswith(" "):
                    continue  # the licence header
                parts = line.split()
                n_ptr = int(parts[3])
                n_senses = int(parts[2])
                offsets = parts[6 + n_ptr:6 + n_ptr + n_senses]
                self._index[parts[0]] = tuple(int(o) for o in offsets)
        self._exceptions: dict[str, list[str]] = {}
        exc = root / "noun.exc"
        if exc.is_file():
            for line in exc.read_text(encoding="utf-8").splitlines():
                inflected, *bases = line.split()
                self._exceptions.setdefault(inflected, []).extend(bases)
        self._files = {"n": open(root / "data.noun", "rb"), "a": open(root / "data.adj", "rb")}  # noqa: SIM115
        self._synsets: dict[tuple[int, str], Synset] = {}
        self._gloss_index: dict[str, list[int]] | None = None
        self._animal = set(self._index.get("animal", ())[:1])

    @classmethod
    def find(cls, root: Path | None = None) -> WordNet | None:
        """The database at `root`, `$WNHOME/dict`, or Debian's place; None when none is installed."""
        dirs = [root] if root else [Path(os.environ["WNHOME"]) / "dict"] if "WNHOME" in os.environ else []
        for d in [*dirs, *(Path(p) for p in DEFAULT_DIRS)]:
            if d and (d / "index.noun").is_file() and (d / "data.noun").is_file():
                return _open(d.resolve())
        return None

    def close(self) -> None:
        for f in self._files.values():
            f.close()

    # ------------------------------------------------------------ lookup

    def base_forms(self, word: str) -> list[str]:
        """The index lemmas a noun may be: itself, then its singulars (morphy's rules and exceptions)."""
        key = word.strip().lower().replace(" ", "_")
        out = [key] if key in self._index else []
        for base in self._exceptions.get(key, []):
            if base in self._index and base not in out:
                out.append(base)
        head, _, last = key.rpartition("_")
        for suffix, repl in _NOUN_RULES:
            if last.endswith(suffix) and len(last) > len(suffix) + 1:
                base = (head + "_" if head else "") + last[: len(last) - len(suffix)] + repl
                if base in self._index and base not in out:
                    out.append(base)
        return out

    def senses(self, word: str) -> list[Synset]:
        return [self.synset(o) for base in self.base_forms(word) for o in self._index[base]]

    def synset(self, offset: int, pos: str = "n") -> Synset:
        key = (offset, pos)
        if key not in self._synsets:
            f = self._files[pos]
            f.seek(offset)
            self._synsets[key] = _parse(offset, pos, f.readline().decode("utf-8"))
        return self._synsets[key]

    # ------------------------------------------------------------ taxa

    def is_animal(self, s: Synset) -> bool:
        seen: set[int] = set()
        todo = [s.offset]
        while todo:
            o = todo.pop()
            if o in self._animal:
                return True
            if o not in seen:
                seen.add(o)
                todo.extend(self.synset(o).targets("@") + self.synset(o).targets("@i"))
        return False

    def taxa(self, word: str) -> list[WordNetTaxon]:
        """The taxa an animal noun names, one per animal sense (most frequent sense first). A word
        whose commonest sense is not an animal names a taxon only through a sense filed directly
        under one ("thrush": a disease first, then the family Turdidae; but not "grey": a colour, then
        a grey horse, filed under horse), unless it was typed as a plural ("seals"). A taxon that
        holds another sense's taxon ("cow": the genus Bos, and the class Mammalia of "a mature female
        mammal") is left out."""
        key = word.strip().lower().replace(" ", "_")
        out: list[WordNetTaxon] = []
        senses = self.senses(word)
        if not senses:
            return []
        steps = _MAX_HYPERNYM_STEPS if key not in self._index or self.is_animal(senses[0]) else 0
        for s in senses:
            if s.rank_name() is not None:  # the taxon's own name: "Spheniscidae", "family Spheniscidae"
                t = self._kept(s, s.gloss) if self.is_animal_taxon(s) else None
            elif self.is_animal(s):
                t = self._taxon_of(s, steps)
            else:
                continue
            if t is not None and all((t.rank, t.names) != (o.rank, o.names) for o in out):
                out.append(t)
        if not out:  # a group WordNet names only in its taxon's gloss: Insecta, "insects; about ..."
            out = [t for o in self._glossed().get(key.replace("_", " "), [])
                   if self.is_animal_taxon(self.synset(o)) and (t := self._kept(self.synset(o), "")) is not None]
        above = {a for t in out for a in self._holders_above(t.offset)}
        return [t for t in out if t.offset not in above]

    def _glossed(self) -> dict[str, list[int]]:
        """Plural nouns that open a taxon's gloss ("insects", "frogs, toads, tree toads") -> the taxon
        synsets; read from the noun data once, on the first name that needs it."""
        if self._gloss_index is None:
            index: dict[str, list[int]] = {}
            f = self._files["n"]
            f.seek(0)
            for raw in f:
                line = raw.decode("utf-8")
                if line.startswith(" ") or not _TAXON_LINE.match(line):
                    continue
                head = line.partition("|")[2].split(";")[0]
                for item in head.split(","):
                    words = item.strip().lower()
                    if words and words.endswith("s") and len(words.split()) <= 3 and words.replace(" ", "").isalpha():
                        index.setdefault(words, []).append(int(line[:8]))
            self._gloss_index = index
        return self._gloss_index

    def taxon_of_synset(self, offset: int) -> WordNetTaxon | None:
        """The taxon of one noun sense (an ImageNet class is one), or None when it is no animal."""
        s = self.synset(offset)
        if s.rank_name() is not None:
            return self._kept(s, s.gloss) if self.is_animal_taxon(s) else None
        return self._taxon_of(s) if self.is_animal(s) else None

    def lineage_of(self, rank: str, name: str) -> dict[str, str]:
        """rank -> name from the class down to a taxon WordNet files ("genus Turdus" -> Aves,
        Passeriformes, Turdidae, Turdus), through its member holonyms; {} when WordNet lacks it."""
        offsets = self._index.get(f"{rank}_{name}".lower(), ())
        taxon = next((self.synset(o) for o in offsets if (self.synset(o).rank_name() or ("", []))[0] == rank), None)
        if taxon is None:
            return {}
        out = {rank: name}
        node: Synset | None = taxon
        while node is not None:
            node = next((h for o in node.targets("#m") if (h := self.synset(o)).rank_name() is not None), None)
            found = node.rank_name() if node is not None else None
            if found and found[0] in KEPT_RANKS and found[0] not in out:
                out[found[0]] = found[1][0]
        return {r: out[r] for r in ("class", "order", "family", "genus", "species") if r in out}

    def is_animal_taxon(self, s: Synset) -> bool:
        """A taxon synset filed (through its holonyms) under the animal kingdom."""
        animalia = set(self._index.get("animalia", ())[:1])
        return bool(animalia & (self._holders_above(s.offset) | {s.offset}))

    def _holders_above(self, offset: int) -> set[int]:
        """The taxa a taxon synset is filed under (its member holonyms, transitively)."""
        seen: set[int] = set()
        todo = self.synset(offset).targets("#m")
        while todo:
            o = todo.pop()
            if o not in seen:
                seen.add(o)
                todo.extend(self.synset(o).targets("#m"))
        return seen

    def _taxon_of(self, s: Synset, steps: int = _MAX_HYPERNYM_STEPS) -> WordNetTaxon | None:
        """The sense's own taxon, else its hypernyms' (a hypernym's group between our ranks only when it
        expands to a few taxa: "seal" -> pinniped -> 3 families, but "warbler" -> oscine -> 40 families
        would name far more than the noun does)."""
        frontier = [s]
        for step in range(steps + 1):
            for node in frontier:
                for holder in self._holders(node):
                    taxon = self._kept(holder, s.gloss)
                    if taxon is not None and (step == 0 or not taxon.expanded or len(taxon.names) <= _FEW):
                        return taxon
            frontier = [self.synset(o) for n in frontier for o in n.targets("@")]
        return None

    def _holders(self, s: Synset) -> list[Synset]:
        """The taxon synsets `s` is a member of, then those it shares a derived adjective with ("anuran")."""
        out = [t for o in s.targets("#m") if (t := self.synset(o)).rank_name() is not None]
        for adj in s.targets("+", "a"):
            out += [t for o in self.synset(adj, "a").targets("+")
                    if o != s.offset and (t := self.synset(o)).rank_name() is not None and t not in out]
        return out

    def _kept(self, t: Synset, gloss: str) -> WordNetTaxon | None:
        rank, names = t.rank_name() or ("", [])
        if rank in KEPT_RANKS:
            return WordNetTaxon(rank, tuple(names), gloss, offset=t.offset)
        if rank not in SUB_RANKS:
            return None  # kingdom, phylum: too broad to be a search filter
        members = [self.synset(o) for o in t.targets("%m")]
        for _ in range(3):  # suborder -> families, superfamily -> families, subfamily -> genera
            kept = [(m.rank_name() or ("", [])) for m in members]
            ranks = {r for r, _ in kept if r in KEPT_RANKS}
            if len(ranks) == 1:
                return WordNetTaxon(ranks.pop(), tuple(n[0] for r, n in kept if r in KEPT_RANKS and n), gloss, True,
                                    t.offset)
            members = [self.synset(o) for m in members for o in m.targets("%m")]
        return None


@cache
def _open(root: Path) -> WordNet:
    return WordNet(root)


def _parse(offset: int, pos: str, line: str) -> Synset:
    data, _, gloss = line.partition("|")
    parts = data.split()
    n_words = int(parts[3], 16)
    lemmas = tuple(_strip_marker(parts[4 + 2 * i]) for i in range(n_words))
    i = 4 + 2 * n_words
    n_ptr = int(parts[i])
    pointers = tuple((parts[i + 1 + 4 * k], int(parts[i + 2 + 4 * k]), _pos(parts[i + 3 + 4 * k]))
                     for k in range(n_ptr))
    return Synset(offset, pos, lemmas, pointers, gloss.strip())


def _strip_marker(word: str) -> str:
    """Adjectives carry a syntactic marker: 'anuran(a)' -> 'anuran'."""
    return word.split("(", 1)[0]


def _pos(p: str) -> str:
    return "a" if p == "s" else p  # satellite adjectives live in data.adj too

