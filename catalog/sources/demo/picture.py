"""Synthetic animal pictures whose looks are inherited down the tree.

class (or order/family) -> body plan (bird, frog, insect, mammal, bat, cetacean); the latent
vector -> palette (mostly family), pattern and proportions (genus), fine tints (species);
each photo varies pose, scale, lighting and a habitat-coloured background.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from catalog.sources.demo.world import sig
from catalog.taxonomy import Lineage

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "forest": (46, 84, 40), "grassland": (150, 160, 80), "desert": (205, 175, 120),
    "wetland": (70, 120, 110), "mountain": (120, 125, 140), "urban": (130, 130, 128),
    "sea": (30, 70, 120),
}


@dataclass(frozen=True, slots=True)
class Looks:
    plan: str
    body: tuple[int, int, int]
    accent: tuple[int, int, int]
    pattern: str  # none | stripes | spots | bars
    angle: float
    pattern_px: float
    aspect: float
    head: float
    limbs: float
    tail: float


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(1, max(0, s)), min(1, max(0, v)))
    return int(r * 255), int(g * 255), int(b * 255)


def plan_for(lineage: Lineage) -> str:
    if lineage.order == "Chiroptera":
        return "bat"
    if lineage.family in {"Balaenopteridae", "Delphinidae"}:
        return "cetacean"
    return {"Aves": "bird", "Amphibia": "frog", "Insecta": "insect"}.get(lineage.class_, "mammal")


def looks_for(lineage: Lineage, z: np.ndarray) -> Looks:
    """Images use latent dims 12..23."""
    i = z[12:]
    hue = sig(i[0])
    return Looks(
        plan=plan_for(lineage),
        body=_rgb(hue, 0.3 + 0.6 * sig(i[1]), 0.35 + 0.55 * sig(i[2])),
        accent=_rgb(hue + 0.5 * math.tanh(i[3]), 0.5 + 0.5 * sig(i[1] - i[3]), 0.25 + 0.7 * sig(i[4])),
        pattern=("none", "stripes", "spots", "bars")[min(3, int(4 * sig(1.5 * i[5])))],
        angle=math.pi * sig(i[6]),
        pattern_px=0.03 + 0.08 * sig(i[7]),
        aspect=1.2 + 0.9 * sig(i[8]),
        head=0.28 + 0.25 * sig(i[9]),
        limbs=0.4 + 0.7 * sig(i[10]),
        tail=0.2 + 0.9 * sig(i[11]),
    )


def _pattern(size: int, looks: Looks, rng: np.random.Generator) -> Image.Image:
    """A white-on-black mask of the pattern over the whole canvas."""
    mask = Image.new("L", (size, size), 0)
    if looks.pattern == "none":
        return mask
    d = ImageDraw.Draw(mask)
    step = max(3, int(looks.pattern_px * size))
    if looks.pattern in ("stripes", "bars"):
        width = max(1, step // (3 if looks.pattern == "stripes" else 1) // 2)
        dx, dy = math.cos(looks.angle), math.sin(looks.angle)
        for k in range(-2 * size // step, 2 * size // step):
            cx, cy = size / 2 + k * step * -dy, size / 2 + k * step * dx
            d.line([(cx - dx * size * 2, cy - dy * size * 2), (cx + dx * size * 2, cy + dy * size * 2)],
                   fill=255, width=width)
    else:
        for _ in range(int((size / step) ** 2 * 0.6)):
            x, y = rng.uniform(0, size, 2)
            r = step * float(rng.uniform(0.25, 0.45))
            d.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return mask


Eyes = list[tuple[float, float, float]]


@dataclass
class _Canvas:
    """The two masks a body plan draws on and its measures: centre, body length and height, line width."""

    b: ImageDraw.ImageDraw
    a: ImageDraw.ImageDraw
    c: float
    length: float
    height: float
    w: int


def _bird(k: _Canvas, looks: Looks) -> Eyes:
    b, a, c, length, height, w = k.b, k.a, k.c, k.length, k.height, k.w
    b.ellipse([c - length / 2, c - height / 2, c + length / 2, c + height / 2], fill=255)
    hr = height * looks.head
    hx, hy = c + length / 2 - hr * 0.4, c - height / 2
    b.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=255)
    a.polygon([(hx + hr * 0.8, hy - hr * 0.2), (hx + hr * (1.6 + looks.limbs), hy + hr * 0.1),
               (hx + hr * 0.8, hy + hr * 0.4)], fill=255)
    tl = length * looks.tail * 0.6
    b.polygon([(c - length / 2 + 4, c - 4), (c - length / 2 - tl, c - height * 0.4),
               (c - length / 2 - tl, c + height * 0.1)], fill=255)
    a.ellipse([c - length * 0.3, c - height * 0.3, c + length * 0.2, c + height * 0.25], fill=255)
    for dx in (-0.1, 0.1):
        b.line([(c + dx * length, c + height * 0.4), (c + dx * length, c + height * 0.4 + length * 0.35)],
               fill=255, width=w)
    return [(hx + hr * 0.3, hy - hr * 0.2, hr * 0.22)]


def _frog(k: _Canvas, looks: Looks) -> Eyes:
    b, a, c, length, w = k.b, k.a, k.c, k.length, k.w
    height = k.height * 0.8
    b.ellipse([c - length / 2, c - height / 2, c + length / 2, c + height / 2], fill=255)
    for side in (-1, 1):
        x0 = c - length * 0.35
        b.line([(x0, c + side * height * 0.3), (x0 - length * 0.3 * looks.limbs, c + side * height * 0.9),
                (x0 + length * 0.1, c + side * height * 1.0)], fill=255, width=w * 2)
        b.line([(c + length * 0.25, c + side * height * 0.35), (c + length * 0.35, c + side * height * 0.85)],
               fill=255, width=w * 2)
    er = height * 0.18 * (1 + looks.head)
    a.ellipse([c - length * 0.2, c - height * 0.15, c + length * 0.2, c + height * 0.15], fill=255)
    return [(c + length * 0.32, c + side * height * 0.28, er) for side in (-1, 1)]


def _insect(k: _Canvas, looks: Looks) -> Eyes:
    b, a, c, length, w = k.b, k.a, k.c, k.length, k.w
    for x, r in [(-0.38, 0.2), (-0.05, 0.16), (0.3, 0.1)]:
        rx, ry = length * r * looks.aspect * 0.8, length * r * 0.9
        b.ellipse([c + x * length * 1.3 - rx, c - ry, c + x * length * 1.3 + rx, c + ry], fill=255)
    for j in (-1, 0, 1):
        x = c + (-0.05 + 0.12 * j) * length
        for side in (-1, 1):
            b.line([(x, c), (x + j * length * 0.2, c + side * length * 0.55 * looks.limbs)], fill=255, width=w)
    hx = c + 0.3 * length * 1.3
    for side in (-1, 1):
        b.line([(hx, c), (hx + length * looks.tail, c + side * length * 0.5)], fill=255, width=max(1, w // 2))
    a.ellipse([c - length * 0.7, c - length * 0.2, c + length * 0.1, c + length * 0.12], fill=255)
    return [(hx + length * 0.08, c - length * 0.05, length * 0.05)]


def _bat(k: _Canvas, looks: Looks) -> Eyes:
    b, a, c, length, height = k.b, k.a, k.c, k.length, k.height
    span = length * (1.0 + looks.limbs)
    a.polygon([(c, c - height * 0.2), (c - span, c - height * 0.9), (c - span * 0.7, c + height * 0.4),
               (c + span * 0.7, c + height * 0.4), (c + span, c - height * 0.9)], fill=255)
    b.ellipse([c - length * 0.2, c - height * 0.4, c + length * 0.2, c + height * 0.5], fill=255)
    hr = height * looks.head
    b.ellipse([c - hr, c - height * 0.4 - hr * 1.5, c + hr, c - height * 0.4 + hr * 0.5], fill=255)
    for side in (-1, 1):
        b.polygon([(c + side * hr * 0.3, c - height * 0.4 - hr), (c + side * hr * 1.2, c - height * 0.4 - hr * 2.8),
                   (c + side * hr, c - height * 0.4 - hr * 0.6)], fill=255)
    return [(c - hr * 0.4, c - height * 0.4 - hr * 0.6, hr * 0.15), (c + hr * 0.4, c - height * 0.4 - hr * 0.6, hr * 0.15)]


def _cetacean(k: _Canvas, looks: Looks) -> Eyes:
    b, a, c = k.b, k.a, k.c
    length = k.length * 1.2
    height = length / (looks.aspect + 1.5)
    b.ellipse([c - length / 2, c - height / 2, c + length / 2, c + height / 2], fill=255)
    tx = c - length / 2
    b.polygon([(tx + 6, c), (tx - length * 0.25, c - height * 0.9), (tx - length * 0.15, c),
               (tx - length * 0.25, c + height * 0.9)], fill=255)
    b.polygon([(c, c - height * 0.4), (c - length * 0.1, c - height * (0.8 + looks.tail)), (c - length * 0.15, c - height * 0.4)],
              fill=255)
    a.ellipse([c - length * 0.4, c, c + length * 0.45, c + height / 2], fill=255)
    return [(c + length * 0.35, c - height * 0.05, height * 0.08)]


def _mammal(k: _Canvas, looks: Looks) -> Eyes:
    b, a, c, length, height, w = k.b, k.a, k.c, k.length, k.height, k.w
    b.ellipse([c - length / 2, c - height / 2, c + length / 2, c + height / 2], fill=255)
    hr = height * looks.head * 1.2
    hx, hy = c + length / 2, c - height * 0.45
    b.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=255)
    a.ellipse([hx + hr * 0.3, hy - hr * 0.1, hx + hr * 1.5, hy + hr * 0.6], fill=255)
    for side in (-0.6, 0.3):
        b.polygon([(hx + side * hr, hy - hr * 0.6), (hx + side * hr + hr * 0.2, hy - hr * (1.4 + looks.tail * 0.6)),
                   (hx + side * hr + hr * 0.6, hy - hr * 0.7)], fill=255)
    for x in (-0.35, -0.2, 0.2, 0.35):
        b.rectangle([c + x * length - w, c, c + x * length + w * 1.5, c + height * 0.5 + length * 0.4 * looks.limbs],
                    fill=255)
    b.line([(c - length / 2 + 3, c - height * 0.1), (c - length / 2 - length * 0.5 * looks.tail, c - height * 0.5)],
           fill=255, width=w * 2)
    return [(hx + hr * 0.35, hy - hr * 0.25, hr * 0.15)]


_PLANS: dict[str, Callable[[_Canvas, Looks], Eyes]] = {
    "bird": _bird, "frog": _frog, "insect": _insect, "bat": _bat, "cetacean": _cetacean, "mammal": _mammal}


def _body(size: int, looks: Looks) -> tuple[Image.Image, Image.Image, Eyes]:
    """(body mask, accent mask, eye positions) of the body plan, facing right, centred."""
    body = Image.new("L", (size, size), 0)
    accent = Image.new("L", (size, size), 0)
    length = size * 0.42
    canvas = _Canvas(ImageDraw.Draw(body), ImageDraw.Draw(accent), size / 2, length, length / looks.aspect, max(2, size // 40))
    eyes = _PLANS.get(looks.plan, _mammal)(canvas, looks)
    return body, accent, eyes


def render(looks: Looks, habitat: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One photo: background, body with pattern and accent, random pose and light."""
    big = size * 2
    base = np.array(BACKGROUNDS.get(habitat, BACKGROUNDS["forest"]), dtype=np.float32)
    tint = base * float(rng.uniform(0.75, 1.2)) + rng.normal(0, 12, 3)
    field = rng.normal(0, 1, (big // 16 + 1, big // 16 + 1, 3)).astype(np.float32)
    cubic = Image.Resampling.BICUBIC
    field = np.asarray(Image.fromarray(((field * 20) + 128).clip(0, 255).astype(np.uint8)).resize((big, big), cubic),
                       dtype=np.float32) - 128
    bg = Image.fromarray((tint + field + rng.normal(0, 6, (big, big, 3))).clip(0, 255).astype(np.uint8))

    body, accent, eyes = _body(big, looks)
    pattern = ImageChops.multiply(_pattern(big, looks, rng), body)
    shade = tuple(int(np.clip(v * rng.uniform(0.85, 1.15), 0, 255)) for v in looks.body)
    layer = Image.new("RGB", (big, big), shade)
    layer.paste(Image.new("RGB", (big, big), looks.accent), mask=ImageChops.multiply(accent, body) if looks.plan != "bat" else accent)
    dark = tuple(int(v * 0.45) for v in looks.body)
    layer.paste(Image.new("RGB", (big, big), dark), mask=pattern)
    d = ImageDraw.Draw(layer)
    for x, y, r in eyes:
        d.ellipse([x - r, y - r, x + r, y + r], fill=(15, 15, 15))
    full = ImageChops.lighter(body, accent) if looks.plan == "bat" else body

    angle = float(rng.uniform(-25, 25))
    scale = float(rng.uniform(0.65, 1.0))
    flip = bool(rng.integers(0, 2))
    new = max(8, int(big * scale))
    layer, full = (im.rotate(angle, resample=cubic).resize((new, new), cubic) for im in (layer, full))
    if flip:
        layer, full = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT), full.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ox, oy = (int(rng.uniform(0, big - new + 1)) for _ in range(2))
    bg.paste(layer, (ox, oy), full.filter(ImageFilter.GaussianBlur(1)))
    light = float(rng.uniform(0.8, 1.15))
    arr = np.asarray(bg, dtype=np.float32) * light
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8)).resize((size, size), Image.Resampling.LANCZOS)
