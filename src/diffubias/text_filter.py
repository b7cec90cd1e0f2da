"""The DiffuBias text filter F_T: keep captions that name one of the corpus's top-F words.

Captions are tokenised (NLTK ``word_tokenize`` when its punkt data is installed, else NLTK's
data-free ``wordpunct_tokenize``), lower-cased, reduced to alphabetic tokens and stripped of
English stopwords (NLTK's corpus when installed, else the shipped copy of the same list).
Word counts run over the whole corpus; the F most frequent words (F = multiplier × classes,
ties broken alphabetically) form the vocabulary a caption must hit *as a whole token*: "man"
does not keep "woman" (the public code's substring test does).
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable

from diffubias.errors import ConfigError, DataError

STOPWORD_SOURCES = ("auto", "nltk", "shipped")


@dataclass(frozen=True)
class Tokenizer:
    """A named word tokeniser (the name is recorded in the filter's metrics)."""

    name: str
    split: Callable[[str], list[str]]


@functools.cache
def get_tokenizer() -> Tokenizer:
    """NLTK ``word_tokenize`` if its punkt data loads, else ``wordpunct_tokenize`` (needs no data)."""
    import nltk
    from nltk.tokenize import wordpunct_tokenize

    try:
        nltk.word_tokenize("a probe sentence.")
        return Tokenizer("nltk.word_tokenize", nltk.word_tokenize)
    except LookupError:
        return Tokenizer("nltk.wordpunct_tokenize (punkt data not installed)", wordpunct_tokenize)


def shipped_stopwords() -> frozenset[str]:
    """The English stopword list shipped in ``diffubias/resources/stopwords_en.txt``."""
    text = resources.files("diffubias").joinpath("resources/stopwords_en.txt").read_text()
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def load_stopwords(source: str = "auto") -> tuple[frozenset[str], str]:
    """(stopwords, where they came from) for ``text_filter.stopwords`` = auto | nltk | shipped."""
    if source not in STOPWORD_SOURCES:
        raise ConfigError(f"text_filter.stopwords: {source!r} is not one of {list(STOPWORD_SOURCES)}")
    if source in ("auto", "nltk"):
        try:
            from nltk.corpus import stopwords

            return frozenset(stopwords.words("english")), "nltk corpus"
        except LookupError:
            if source == "nltk":
                raise ConfigError(
                    "text_filter.stopwords: nltk, but the NLTK stopwords corpus is not installed; "
                    "install it offline (nltk_data/corpora/stopwords) or set text_filter.stopwords: shipped"
                ) from None
    return shipped_stopwords(), "shipped list (resources/stopwords_en.txt)"


def content_words(text: str, stopwords: frozenset[str], tokenizer: Tokenizer | None = None) -> list[str]:
    """Lower-cased alphabetic tokens of ``text`` that are not stopwords, in order."""
    tok = tokenizer or get_tokenizer()
    words = (t.lower() for t in tok.split(text))
    return [w for w in words if w.isalpha() and w not in stopwords]


def num_top_words(num_classes: int, multiplier: float) -> int:
    """F = round(multiplier × number of classes), at least 1."""
    return max(1, round(multiplier * num_classes))


@dataclass
class FilterResult:
    """Kept and dropped caption records, the top-F words with counts, and how text was processed."""

    kept: list[dict]
    dropped: list[dict]
    top_words: list[tuple[str, int]]
    enabled: bool
    top_f: int
    tokenizer: str
    stopwords: str
    metrics: dict = field(default_factory=dict)


def filter_captions(records: list[dict], num_classes: int, multiplier: float = 2.0, enabled: bool = True,
                    stopword_source: str = "auto") -> FilterResult:
    """Apply F_T to caption records (dicts with a ``text`` key, and ``label`` for per-class counts)."""
    if not records:
        raise DataError("the caption corpus is empty: the caption stage wrote no captions "
                        "(check mine.k and caption.captions_per_image)")
    stopwords, stop_source = load_stopwords(stopword_source)
    tokenizer = get_tokenizer()
    words = [content_words(r["text"], stopwords, tokenizer) for r in records]
    counts = Counter(w for ws in words for w in ws)
    top_f = num_top_words(num_classes, multiplier)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_f]
    vocabulary = {w for w, _ in top}
    if enabled:
        keep = [bool(vocabulary.intersection(ws)) for ws in words]
    else:
        keep = [True] * len(records)
    kept = [r for r, k in zip(records, keep) if k]
    dropped = [r for r, k in zip(records, keep) if not k]
    result = FilterResult(kept, dropped, top, enabled, top_f, tokenizer.name, stop_source)
    result.metrics = filter_metrics(result, num_classes)
    return result


def filter_metrics(result: FilterResult, num_classes: int) -> dict:
    """Kept / dropped counts, keep rate, kept captions per class, the top-F words."""
    total = len(result.kept) + len(result.dropped)
    per_class = Counter(int(r["label"]) for r in result.kept if "label" in r)
    return {
        "enabled": result.enabled,
        "captions": total,
        "kept": len(result.kept),
        "dropped": len(result.dropped),
        "keep_rate": round(len(result.kept) / total, 4) if total else 0.0,
        "top_f": result.top_f,
        "top_words": {w: c for w, c in result.top_words},
        "kept_per_class": {str(c): per_class.get(c, 0) for c in range(num_classes)},
        "classes_without_captions": sum(1 for c in range(num_classes) if per_class.get(c, 0) == 0),
        "tokenizer": result.tokenizer,
        "stopwords": result.stopwords,
    }


def require_kept(result: FilterResult) -> None:
    """Fail clearly when the filter left nothing to generate from."""
    if not result.kept:
        raise DataError(
            f"the text filter dropped all {len(result.dropped)} captions: none contains one of the top-"
            f"{result.top_f} words {[w for w, _ in result.top_words]}. Raise text_filter.f_multiplier, "
            "mine more images (mine.k) or more captions (caption.captions_per_image), "
            "or turn the filter off (text_filter.enabled: false)"
        )
