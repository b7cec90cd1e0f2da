"""Web-like captions for world scenes: varied templates, synonyms, extra words and a little noise.

Most captions name the object's shape, colour and background; some drop one attribute, a few
omit the object altogether (only the background or only the colour), and a small fraction carry
noise (a dropped or filler word, rarely a wrong attribute) - the imperfections a text filter meets.
"""
from __future__ import annotations

import numpy as np

from diffubias.world import BACKGROUNDS, COLOURS, SHAPES, Scene

STYLES = ("", "", "", "a photo of", "an image of", "a picture of", "a drawing of", "a rendering of",
          "a close up of", "clipart of", "a simple icon of")
SIZES = ("", "", "", "", "small", "large", "big", "tiny")
POSITIONS = ("", "", "", "", "", "in the middle", "near the centre", "slightly off centre", "on the left",
             "on the right", "near the top")
BG_PHRASES = ("on a {b} background", "on a {b} background", "on a {b} background",
              "over a {b} pattern", "against a {b} backdrop", "with a {b} background", "on {b} texture")
FILLERS = ("nice", "cool", "simple", "very", "some", "old", "new", "shiny", "flat", "bright")

# Caption kinds and their probabilities (must sum to 1).
KINDS: dict[str, float] = {
    "full": 0.62,  # colour + shape + background
    "colour_shape": 0.16,
    "shape_background": 0.12,
    "shape": 0.02,
    "background_only": 0.04,  # no object word
    "colour_only": 0.04,  # no object word
}

# Every word a caption can contain (the tokenizers' vocabulary is built from this, not from data).
VOCABULARY: tuple[str, ...] = tuple(sorted(
    {w for phrase in (*STYLES, *SIZES, *POSITIONS, *FILLERS) for w in phrase.split()}
    | {w for phrase in BG_PHRASES for w in phrase.replace("{b}", "").split()}
    | set(SHAPES) | set(COLOURS) | set(BACKGROUNDS)
    | {"a", "an", "of", "the", "thing", "shape", "object", "something", "pattern", "texture", "background",
       "and", "with", "coloured", "plain"}
))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _object(scene: Scene, rng: np.random.Generator, colour: bool) -> str:
    words = [SIZES[rng.integers(len(SIZES))]]
    if colour:
        words.append(COLOURS[scene.colour])
    words.append(SHAPES[scene.shape])
    words = [w for w in words if w]
    return f"{_article(words[0])} {' '.join(words)}"


def _with_style(text: str, rng: np.random.Generator) -> str:
    style = STYLES[rng.integers(len(STYLES))]
    return f"{style} {text}" if style else text


def _background(scene: Scene, rng: np.random.Generator) -> str:
    return BG_PHRASES[rng.integers(len(BG_PHRASES))].format(b=BACKGROUNDS[scene.background])


def _noisy(words: list[str], scene: Scene, rng: np.random.Generator, noise: float) -> list[str]:
    """With probability ``noise``: drop a word, insert a filler, or (rarely) swap an attribute."""
    if rng.random() >= noise or len(words) < 3:
        return words
    kind = rng.integers(3)
    if kind == 0:
        drop = int(rng.integers(len(words)))
        words = words[:drop] + words[drop + 1:]
    elif kind == 1:
        i = int(rng.integers(len(words)))
        words = words[:i] + [FILLERS[rng.integers(len(FILLERS))]] + words[i:]
    else:
        table = COLOURS if COLOURS[scene.colour] in words else SHAPES
        true = COLOURS[scene.colour] if table is COLOURS else SHAPES[scene.shape]
        if true in words:
            words = [table[rng.integers(len(table))] if w == true else w for w in words]
    return words


def make_caption(scene: Scene, rng: np.random.Generator, noise: float = 0.05) -> str:
    """One sampled caption of ``scene``."""
    names = list(KINDS)
    kind = names[int(rng.choice(len(names), p=list(KINDS.values())))]
    position = POSITIONS[rng.integers(len(POSITIONS))]
    colour, bg = COLOURS[scene.colour], BACKGROUNDS[scene.background]
    if kind == "full":
        text = f"{_object(scene, rng, True)} {position} {_background(scene, rng)}"
    elif kind == "colour_shape":
        text = f"{_object(scene, rng, True)} {position}"
    elif kind == "shape_background":
        text = f"{_object(scene, rng, False)} {position} {_background(scene, rng)}"
    elif kind == "shape":
        text = _object(scene, rng, False)
    elif kind == "background_only":
        text = (f"{_article(bg)} {bg} {('pattern', 'texture', 'background')[rng.integers(3)]}")
    else:
        thing = ("thing", "object", "shape", "something")[rng.integers(4)]
        text = f"{'something' if thing == 'something' else _article(colour) + ' ' + colour + ' ' + thing}"
        if thing == "something":
            text += f" {colour}"
        if rng.random() < 0.5:
            text += f" {_background(scene, rng)}"
    words = _with_style(text, rng).split()
    return " ".join(_noisy(words, scene, rng, noise))


def make_captions(scene: Scene, n: int, rng: np.random.Generator, noise: float = 0.05) -> list[str]:
    """``n`` captions of ``scene`` (they may repeat, as web captions do)."""
    return [make_caption(scene, rng, noise) for _ in range(n)]


def prompt_colour(shape: int, colour: int) -> str:
    """The evaluation prompt naming a shape and its colour."""
    return f"a {COLOURS[colour]} {SHAPES[shape]}"


def prompt_background(shape: int, background: int) -> str:
    """The evaluation prompt naming a shape and its background."""
    return f"a {SHAPES[shape]} on a {BACKGROUNDS[background]} background"
