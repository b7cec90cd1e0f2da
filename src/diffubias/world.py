"""The procedural world: shapes (classes) × colours × background textures at 32 px.

Every image is a pure function of ``(shape, colour, background, rng)``: a shape drawn at 4×
resolution with random position, scale and rotation, anti-aliased down to the target size,
filled with a shaded colour and composited over a textured background, plus pixel noise.
Benchmarks (``benchmarks.py``) and the captioned foundation corpus both render from here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = (
    "circle", "square", "triangle", "star", "cross", "ring", "arrow", "heart", "moon", "house",
)
COLOURS: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "orange", "purple", "cyan", "pink", "white", "gray",
)
BACKGROUNDS: tuple[str, ...] = (
    "plain", "striped", "checkered", "dotted", "grid", "wavy", "brick", "zigzag", "speckled", "gradient",
)

COLOUR_RGB = np.array(
    [
        (230, 40, 40), (40, 200, 60), (60, 100, 255), (240, 230, 50), (255, 140, 20),
        (165, 60, 225), (40, 225, 225), (255, 125, 195), (245, 245, 245), (150, 150, 150),
    ],
    dtype=np.float32,
)
# Two tones per texture (dark, light), kept darker than the object colours so shapes stay visible.
_TEXTURE_TONES = np.array(
    [
        [(16, 16, 20), (30, 30, 36)],
        [(20, 60, 70), (55, 115, 125)],
        [(70, 50, 30), (125, 95, 55)],
        [(20, 25, 60), (95, 105, 175)],
        [(15, 45, 20), (65, 135, 75)],
        [(60, 30, 70), (115, 65, 125)],
        [(105, 45, 35), (55, 48, 48)],
        [(70, 70, 20), (125, 125, 45)],
        [(45, 45, 45), (105, 105, 105)],
        [(10, 30, 85), (90, 25, 45)],
    ],
    dtype=np.float32,
)

SUPERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    """What one image shows (indices into SHAPES, COLOURS, BACKGROUNDS)."""

    shape: int
    colour: int
    background: int


def _star(points: int, inner: float) -> list[tuple[float, float]]:
    out = []
    for k in range(2 * points):
        r = 1.0 if k % 2 == 0 else inner
        a = math.pi * k / points - math.pi / 2
        out.append((r * math.cos(a), r * math.sin(a)))
    return out


def _heart() -> list[tuple[float, float]]:
    pts = []
    for k in range(48):
        t = 2 * math.pi * k / 48
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((x / 17.0, -y / 17.0 + 0.1))
    return pts


# Outlines in unit coordinates ([-1, 1]², y down). Circle-based shapes are handled separately.
_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
    "triangle": [(0.0, -0.95), (0.95, 0.75), (-0.95, 0.75)],
    "star": _star(5, 0.42),
    "cross": [
        (-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3),
        (0.3, 1), (-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3),
    ],
    "arrow": [(-1, -0.25), (0.2, -0.25), (0.2, -0.7), (1, 0), (0.2, 0.7), (0.2, 0.25), (-1, 0.25)],
    "heart": _heart(),
    "house": [(-0.75, 1), (-0.75, -0.1), (0, -0.95), (0.75, -0.1), (0.75, 1)],
}


def shape_mask(shape: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased alpha mask in [0, 1] of one shape with random pose, shape ``(size, size)``."""
    big = size * SUPERSAMPLE
    scale = rng.uniform(0.28, 0.42) * big
    angle = rng.uniform(-35, 35) * math.pi / 180
    cx = big / 2 + rng.uniform(-0.12, 0.12) * big
    cy = big / 2 + rng.uniform(-0.12, 0.12) * big
    aspect = rng.uniform(0.85, 1.15)
    cos, sin = math.cos(angle), math.sin(angle)

    def tf(points):
        return [
            (cx + scale * (x * aspect * cos - y * sin), cy + scale * (x * aspect * sin + y * cos))
            for x, y in points
        ]

    img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(img)
    name = SHAPES[shape]
    if name in ("circle", "ring", "moon"):
        draw.polygon(tf(_circle(0.9)), fill=255)
        if name == "ring":
            draw.polygon(tf(_circle(0.5)), fill=0)
        elif name == "moon":
            draw.polygon(tf([(x + 0.45, y - 0.2) for x, y in _circle(0.8)]), fill=0)
    else:
        draw.polygon(tf(_POLYGONS[name]), fill=255)
    small = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _circle(radius: float, n: int = 40) -> list[tuple[float, float]]:
    return [(radius * math.cos(2 * math.pi * k / n), radius * math.sin(2 * math.pi * k / n)) for k in range(n)]


def texture(background: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A float RGB background texture, shape ``(size, size, 3)``, random phase and scale."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    name = BACKGROUNDS[background]
    phase = rng.uniform(0, 2 * math.pi)
    period = rng.uniform(5.0, 7.0)
    if name == "plain":
        t = np.zeros_like(x) + rng.uniform(0, 0.3)
    elif name == "striped":
        a = rng.uniform(0.6, 1.0)
        t = (np.sin(2 * math.pi * (x * a + y * (1 - a)) / period + phase) > 0).astype(np.float32)
    elif name == "checkered":
        cell = rng.integers(4, 7)
        ox, oy = rng.integers(0, cell, size=2)
        t = (((x + ox) // cell + (y + oy) // cell) % 2).astype(np.float32)
    elif name == "dotted":
        sx, sy = rng.uniform(0, period, size=2)
        dx = (x + sx) % period - period / 2
        dy = (y + sy) % period - period / 2
        t = (dx**2 + dy**2 < 2.6).astype(np.float32)
    elif name == "grid":
        sx, sy = rng.integers(0, 6, size=2)
        t = (((x + sx) % 6 < 1) | ((y + sy) % 6 < 1)).astype(np.float32)
    elif name == "wavy":
        t = (np.sin(2 * math.pi * y / period + 2.0 * np.sin(2 * math.pi * x / 10 + phase)) > 0).astype(np.float32)
    elif name == "brick":
        row = (y + rng.integers(0, 5)) // 5
        shift = (row % 2) * 4
        t = 1.0 - ((((y + 0) % 5) < 1) | (((x + shift) % 8) < 1)).astype(np.float32)
    elif name == "zigzag":
        tri = np.abs(((x + phase * 2) % 8) - 4)
        t = (np.sin(2 * math.pi * (y + tri) / period) > 0).astype(np.float32)
    elif name == "speckled":
        t = (rng.random((size, size)) < 0.3).astype(np.float32)
    else:  # gradient
        t = np.clip(y / size + rng.uniform(-0.15, 0.15), 0, 1)
    dark, light = _TEXTURE_TONES[background]
    tone = rng.uniform(0.85, 1.15)
    return (dark[None, None] + t[..., None] * (light - dark)[None, None]) * tone


def render(scene: Scene, size: int, rng: np.random.Generator, noise_std: float = 6.0) -> np.ndarray:
    """Render one scene to a ``uint8`` RGB array of shape ``(size, size, 3)``."""
    alpha = shape_mask(scene.shape, size, rng)[..., None]
    bg = texture(scene.background, size, rng)
    # Linear shading across the object in a random direction, plus a global brightness jitter.
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    theta = rng.uniform(0, 2 * math.pi)
    shade = 0.85 + 0.3 * (x * math.cos(theta) + y * math.sin(theta))
    colour = COLOUR_RGB[scene.colour] * rng.uniform(0.85, 1.05)
    obj = colour[None, None] * shade[..., None]
    img = bg * (1 - alpha) + obj * alpha
    img = img + rng.normal(0.0, noise_std, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def image_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator for one image, derived from the world seed and the image's key."""
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))
