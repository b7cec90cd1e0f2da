"""One prompt per (class, bias) subgroup from a template such as ``A photo of {bias} {class}``."""
from __future__ import annotations

import re

from diffubias.config import FFRParams
from diffubias.data import Vocabulary
from diffubias.errors import ConfigError

_ARTICLE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def template_for(p: FFRParams, vocab: Vocabulary, benchmark: str) -> str:
    """``ffr.template`` if set, else ``ffr.templates[<bias kind>]`` (the embedded world's wording)."""
    if p.template:
        return p.template
    if vocab.bias_kind in p.templates:
        return p.templates[vocab.bias_kind]
    raise ConfigError(f"ffr.template: benchmark {benchmark!r} has bias kind {vocab.bias_kind!r}, which has no entry "
                      f"in ffr.templates ({sorted(p.templates)}); set ffr.template, e.g. 'A photo of {{bias}} {{class}}'")


def render_prompt(template: str, class_name: str, bias_name: str) -> str:
    """Fill the template; 'a' before a vowel becomes 'an' ('a photo of a orange star' -> 'an orange')."""
    text = template.replace("{class}", class_name).replace("{bias}", bias_name)
    return " ".join(_ARTICLE.sub(lambda m: m.group(1) + "n ", text).split())


def subgroup_name(label: int, bias: int) -> str:
    """The corpus 'image' field of a subgroup, ending in ``_<class>_<bias>`` like every file name here."""
    return f"subgroup_{label}_{bias}"


def subgroup_corpus(vocab: Vocabulary, template: str) -> list[dict]:
    """Generation corpus: subgroup ``g = class * num_bias + bias`` at position g (image i shows subgroup i mod G)."""
    return [{"text": render_prompt(template, c_name, b_name), "image": subgroup_name(c, b), "caption_index": 0,
             "label": c}
            for c, c_name in enumerate(vocab.classes) for b, b_name in enumerate(vocab.bias_values)]
