"""Licence strings from any source -> one short code ('cc-by-nc', 'cc0', ...)."""

from __future__ import annotations

import re

_WORDS = {"attribution": "by", "non-commercial": "nc", "noncommercial": "nc", "share-alike": "sa",
          "sharealike": "sa", "no-derivatives": "nd", "noderivatives": "nd", "noderivs": "nd"}
_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)", re.I)


def normalise_license(text: str | None) -> str | None:
    """'CC BY-NC 4.0', '//creativecommons.org/licenses/by-nc/4.0/', 'cc-by-nc' -> 'cc-by-nc'.

    Public-domain marks and CC0 become 'cc0'; anything else is kept, lower-cased, so that
    nothing a rights holder wrote is lost.
    """
    if text is None or not text.strip():
        return None
    raw = text.strip()
    m = _CC_URL.search(raw)
    if m:
        kind, body = m.group(1).lower(), m.group(2).lower()
        return "cc0" if kind == "publicdomain" or body in {"zero", "mark"} else f"cc-{body}"
    t = raw.lower().replace("_", "-").replace("–", "-")
    if re.fullmatch(r"cc[\s-]?0([\s-]+1\.0)?|cc[\s-]?zero|public[\s-]?domain|pd", t):
        return "cc0"
    kept = re.sub(r"\s+", "-", t)  # not a Creative Commons licence: kept whole ('gpl-3+', 'gplv3')
    for word, short in _WORDS.items():
        t = t.replace(word, short)
    t = re.sub(r"[\s-]*\d+(\.\d+)?\s*(international|generic|unported)?$", "", t).strip(" -")
    t = re.sub(r"^(creative commons|cc)[\s-]+", "cc-", t)
    t = re.sub(r"[\s-]+", "-", t)
    if t.startswith("cc-"):
        parts = t[3:].split("-")
        if parts and all(p in {"by", "sa", "nc", "nd"} for p in parts):
            return "cc-" + "-".join(parts)
    return kept


def is_allowed(code: str | None, allowed: list[str] | tuple[str, ...]) -> bool:
    return code is not None and code in allowed
