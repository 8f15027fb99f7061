"""A backend-neutral filter: what the search module builds and each store translates.

Values of one field are alternatives (any of); different fields must all hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from catalog.errors import ConfigError
from indexer.schema import day_number


@dataclass(frozen=True)
class BBox:
    """Latitude/longitude box (south, west, north, east), in degrees."""

    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        if not (-90 <= self.south <= self.north <= 90) or not (-180 <= self.west <= 180 and -180 <= self.east <= 180):
            raise ConfigError(f"bad bounding box {self}: want south<=north in [-90, 90], west/east in [-180, 180]")

    @classmethod
    def parse(cls, text: str) -> BBox:
        """'south,west,north,east'."""
        try:
            s, w, n, e = (float(v) for v in text.split(","))
        except ValueError:
            raise ConfigError(f"bounding box {text!r}: want 'south,west,north,east' in degrees") from None
        return cls(s, w, n, e)


@dataclass
class Filter:
    """Trait values (`category=label`) are kept per category: labels of one category are
    alternatives (nocturnal or crepuscular), categories must all hold (nocturnal and wetland)."""

    keywords: dict[str, list[str]] = field(default_factory=dict)  # field -> any of these values
    exclude: dict[str, list[str]] = field(default_factory=dict)  # field -> none of these values
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    bbox: BBox | None = None
    traits: dict[str, list[str]] = field(default_factory=dict)  # category -> any of these 'category=label'

    def __post_init__(self) -> None:
        if "traits" in self.keywords:
            self.add("traits", *self.keywords.pop("traits"))

    def add(self, name: str, *values: str) -> Filter:
        for v in values:
            have = (self.traits.setdefault(v.split("=", 1)[0], []) if name == "traits"
                    else self.keywords.setdefault(name, []))
            if v not in have:
                have.append(v)
        return self

    def conditions(self) -> list[tuple[str, list[str]]]:
        """(field, any of values) pairs that must all hold: the keywords, then one per trait category."""
        return [(k, vs) for k, vs in self.keywords.items() if vs] + [("traits", vs) for vs in self.traits.values()]

    def merged(self, other: Filter) -> Filter:
        out = Filter({k: list(v) for k, v in self.keywords.items()}, {k: list(v) for k, v in self.exclude.items()},
                     other.date_from or self.date_from, other.date_to or self.date_to, other.bbox or self.bbox,
                     {k: list(v) for k, v in self.traits.items()})
        for k, vs in other.keywords.items():
            out.add(k, *vs)
        for vs in other.traits.values():
            out.add("traits", *vs)
        for k, vs in other.exclude.items():
            out.exclude.setdefault(k, []).extend(vs)
        return out

    @property
    def day_range(self) -> tuple[int | None, int | None]:
        return (day_number(self.date_from) if self.date_from else None,
                day_number(self.date_to) if self.date_to else None)

    def is_empty(self) -> bool:
        return not (self.keywords or self.traits or self.exclude or self.date_from or self.date_to or self.bbox)
