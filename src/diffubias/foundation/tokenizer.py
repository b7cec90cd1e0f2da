"""A word-level tokenizer over the caption vocabulary, wrapped as a transformers fast tokenizer.

One tokenizer serves both models: the text encoder (``[BOS] words [EOS] [PAD]...``, padded to
``max_length`` exactly as ``StableDiffusionPipeline`` calls it) and the captioner's decoder
(``words [EOS]`` as labels, the decoder starts from ``[BOS]``).
"""
from __future__ import annotations

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)


def build_tokenizer(words: tuple[str, ...] | list[str], max_length: int) -> PreTrainedTokenizerFast:
    """A lower-casing word-level tokenizer that adds ``[BOS]``/``[EOS]`` and pads to ``max_length``."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for word in sorted(set(words)):
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, model_max_length=max_length, pad_token=PAD, unk_token=UNK,
        bos_token=BOS, eos_token=EOS, padding_side="right", truncation_side="right",
    )
