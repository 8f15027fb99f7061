"""Free text -> filters + target + what is left to embed.

Names of taxa at any rank, in the words people use (`catalog.names`: "owls", "tree frogs",
"Gray Treefrog", "Strigidae"), and trait words become filters; modality words pick the target; the
rest is embedded as text. The interpretation is returned so that a UI can show (and undo) each
part, with the choices of a name that means several taxa and notes on names the catalog lacks.
    "nocturnal Hylidae calls" -> family=Hylidae, traits=activity=nocturnal, target=audio, text=''
    "frogs calling at night"  -> order=Anura, traits=activity=nocturnal, target=audio, text=''
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.names import NameResolver, Resolution
from catalog.prompts import PromptStyle, taxon_prompt
from catalog.tables import Taxon
from catalog.taxonomy import RANKS
from catalog.traits import CATEGORIES, TRAIT_WORDS, keyword

MODALITY_WORDS: dict[str, str] = {
    **{w: "audio" for w in ("call", "calls", "calling", "song", "songs", "singing", "sound", "sounds", "recording",
                            "recordings", "audio", "vocalization", "vocalizations", "vocalisation", "vocalisations",
                            "chorus", "noise", "noises", "voice", "voices", "cries", "croaking", "croaks", "hooting",
                            "hoots", "chirping", "chirps", "howling", "howls", "listen", "hear")},
    **{w: "image" for w in ("photo", "photos", "image", "images", "picture", "pictures", "pics")},
    **{w: "text" for w in ("species", "taxa", "taxon", "names")},
}
STOPWORDS = frozenset(["a", "an", "the", "of", "and", "or", "with", "in", "on", "at", "from", "by", "for", "that",
                       "which", "show", "me", "find", "all", "any", "some", "are", "is", "what", "like",
                       "do", "does"])
_SKIP_LABELS = frozenset({"other"})  # too common a word to read as a trait
_TOKEN = re.compile(r"[\w'-]+", re.UNICODE)
MAX_PHRASE = 5


@dataclass(frozen=True)
class Match:
    phrase: str  # the words of the query
    field: str  # payload field: class/order/family/genus/species, traits, or target
    value: str  # e.g. Hylidae, activity=nocturnal, audio


@dataclass(frozen=True)
class Choice:
    """A name that means several taxa: what each could be, and the one taken (None: none was, the
    words were embedded instead)."""

    phrase: str
    options: list[str]
    chosen: str | None = None


@dataclass
class Interpretation:
    matches: list[Match] = field(default_factory=list)
    remainder: str = ""  # free words that were not understood as filters
    choices: list[Choice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. nothing in the catalog is of a named taxon

    @property
    def names_something(self) -> bool:
        """True when a taxon, trait or modality word was understood."""
        return bool(self.matches)

    @property
    def target(self) -> str | None:
        found = [m.value for m in self.matches if m.field == "target"]
        return found[0] if found else None

    def filters(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m in self.matches:
            if m.field != "target" and m.value not in out.setdefault(m.field, []):
                out[m.field].append(m.value)
        return out


@dataclass
class Vocabulary:
    """Trait and modality words, the name resolver, and each catalog taxon's prompt; built once per catalog state."""

    phrases: dict[str, tuple[str, str]]  # lower-cased trait words -> ("traits", category=label)
    lineage: dict[tuple[str, str], tuple[str, ...]]  # (rank, name) -> its lineage's names, for the fallback
    names: NameResolver | None = None

    @classmethod
    def from_catalog(cls, session: Session, names: NameResolver | None = None) -> Vocabulary:
        phrases: dict[str, tuple[str, str]] = {}
        for cat in CATEGORIES:
            for label in cat.labels:
                if label not in _SKIP_LABELS:
                    value = ("traits", keyword(cat.key, label))
                    phrases[label] = value
                    phrases[label + "s"] = value  # wetlands, predators
        for word, (category, label) in TRAIT_WORDS.items():
            phrases.setdefault(word, ("traits", keyword(category, label)))
        lineage: dict[tuple[str, str], tuple[str, ...]] = {}
        for t in session.scalars(select(Taxon)):
            lineage[(t.rank, t.name)] = tuple(t.lineage_names())
        return cls(phrases, lineage, names or NameResolver.from_catalog(session))

    def parse(self, text: str) -> Interpretation:
        tokens = _TOKEN.findall(text)
        out = Interpretation()
        rest: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):  # longest phrase first
                phrase = " ".join(tokens[i:i + n])
                key = phrase.lower()
                if key in self.phrases:
                    out.matches.append(Match(phrase, *self.phrases[key]))
                    break
                if n == 1 and key in MODALITY_WORDS:
                    out.matches.append(Match(phrase, "target", MODALITY_WORDS[key]))
                    break
                if (n == 1 and key in STOPWORDS) or self.names is None:
                    continue
                res = self.names.resolve(phrase)
                if res is not None:
                    if not self._take(res, out):
                        rest.extend(tokens[i:i + n])
                    break
            else:
                n = 1
                if tokens[i].lower() not in STOPWORDS:
                    rest.append(tokens[i])
            i += n
        out.remainder = " ".join(rest)
        return out

    def _take(self, res: Resolution, out: Interpretation) -> bool:
        """The taxa of a resolved name as filters; False when it means several catalog taxa (then
        nothing is picked: the choices are returned and the words embedded)."""
        held = res.held()
        options = [" or ".join(t.label() for t in m) for m in res.meanings]
        if len(res.meanings) == 1:
            meaning = res.meanings[0]
        elif len(held) == 1:
            meaning = held[0]
            out.choices.append(Choice(res.phrase, options, " or ".join(t.label() for t in meaning)))
        else:
            out.choices.append(Choice(res.phrase, options))
            return False
        for t in meaning:
            out.matches.append(Match(res.phrase, t.rank, t.name))
        if not any(t.in_catalog for t in meaning):
            out.notes.append(f"{res.phrase!r} is {options[0] if len(options) == 1 else ' or '.join(options)}: "
                             "nothing in the catalog is of it")
        return True

    def prompt_for(self, interp: Interpretation, style: PromptStyle = PromptStyle.VITA) -> str:
        """What to embed: the free words, else the narrowest named taxon's Tax prompt (in the model's
        wording), else the trait words."""
        if interp.remainder:
            return interp.remainder
        taxa = sorted((m for m in interp.matches if m.field in RANKS), key=lambda m: -RANKS.index(m.field))
        if taxa:
            names = self.lineage.get((taxa[0].field, taxa[0].value))
            return taxon_prompt(taxa[0].field, names, style) if names else taxa[0].value
        words = [m.phrase for m in interp.matches if m.field == "traits"]
        return " ".join(words)
