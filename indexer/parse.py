"""Free text -> filters + target + what is left to embed.

Taxon names (scientific and common, any rank) and trait labels known to the catalog become
filters; modality words pick the target; the rest is embedded as text. The interpretation is
returned so that a UI can show (and undo) each part.
    "nocturnal Hylidae calls" -> family=Hylidae, traits=activity=nocturnal, target=audio, text=''
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import Taxon
from catalog.prompts import taxon_prompt
from catalog.taxonomy import RANKS
from catalog.traits import CATEGORIES, keyword

MODALITY_WORDS: dict[str, str] = {
    **{w: "audio" for w in ("call", "calls", "song", "songs", "sound", "sounds", "recording", "recordings",
                            "audio", "vocalization", "vocalizations", "vocalisation", "vocalisations", "chorus")},
    **{w: "image" for w in ("photo", "photos", "image", "images", "picture", "pictures", "pics")},
    **{w: "text" for w in ("species", "taxa", "taxon", "names")},
}
STOPWORDS = frozenset(["a", "an", "the", "of", "and", "or", "with", "in", "on", "at", "from", "by", "for", "that",
                       "which", "show", "me", "find", "all", "any", "some"])
_SKIP_LABELS = frozenset({"other"})  # too common a word to read as a trait
_TOKEN = re.compile(r"[\w'-]+", re.UNICODE)
MAX_PHRASE = 5


@dataclass(frozen=True)
class Match:
    phrase: str  # the words of the query
    field: str  # payload field: class/order/family/genus/species, traits, or target
    value: str  # e.g. Hylidae, activity=nocturnal, audio


@dataclass
class Interpretation:
    matches: list[Match] = field(default_factory=list)
    remainder: str = ""  # free words that were not understood as filters

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
    """Lower-cased phrase -> (field, value); built once from the catalog."""

    phrases: dict[str, tuple[str, str]]
    lineage: dict[tuple[str, str], str]  # (rank, name) -> its Tax prompt, for the fallback

    @classmethod
    def from_catalog(cls, session: Session) -> Vocabulary:
        phrases: dict[str, tuple[str, str]] = {}
        for cat in CATEGORIES:
            for label in cat.labels:
                if label not in _SKIP_LABELS:
                    value = ("traits", keyword(cat.key, label))
                    phrases[label] = value
                    phrases[label + "s"] = value  # wetlands, predators
        lineage: dict[tuple[str, str], str] = {}
        for t in session.scalars(select(Taxon)):
            phrases[t.name.lower()] = (t.rank, t.name)
            if t.common_name:
                phrases.setdefault(t.common_name.lower(), (t.rank, t.name))
                phrases.setdefault(t.common_name.lower() + "s", (t.rank, t.name))
            lineage[(t.rank, t.name)] = taxon_prompt(t.rank, t.lineage_names())
        return cls(phrases, lineage)

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
            else:
                n = 1
                if tokens[i].lower() not in STOPWORDS:
                    rest.append(tokens[i])
            i += n
        out.remainder = " ".join(rest)
        return out

    def prompt_for(self, interp: Interpretation) -> str:
        """What to embed: the free words, else the narrowest named taxon's lineage, else the trait words."""
        if interp.remainder:
            return interp.remainder
        taxa = sorted((m for m in interp.matches if m.field in RANKS), key=lambda m: -RANKS.index(m.field))
        if taxa:
            return self.lineage.get((taxa[0].field, taxa[0].value), taxa[0].value)
        words = [m.phrase for m in interp.matches if m.field == "traits"]
        return " ".join(words)
