"""The DiffuBias text filter: whole-word matching, stopwords, F, the off switch, bad input."""
from __future__ import annotations

import pytest

from diffubias import text_filter as tf
from diffubias.errors import ConfigError, DataError


def rec(text: str, label: int = 0) -> dict:
    return {"text": text, "label": label, "image": "x.png", "caption_index": 0}


def test_content_words_lowercases_drops_stopwords_and_non_words():
    stop, _ = tf.load_stopwords("shipped")
    assert tf.content_words("A Red circle, on the 3 plain-background!", stop) == ["red", "circle", "plain", "background"]


def test_shipped_stopwords_match_nltk_english_list():
    stop = tf.shipped_stopwords()
    assert len(stop) == 179 and {"the", "a", "of", "on", "with", "don't"} <= stop
    assert "man" not in stop and "circle" not in stop


def test_auto_falls_back_to_shipped_list_without_nltk_data(monkeypatch):
    import nltk.corpus

    class Missing:
        def words(self, lang):
            raise LookupError("Resource stopwords not found")

    monkeypatch.setattr(nltk.corpus, "stopwords", Missing())
    words, source = tf.load_stopwords("auto")
    assert source.startswith("shipped") and "the" in words
    with pytest.raises(ConfigError, match="text_filter.stopwords"):
        tf.load_stopwords("nltk")


def test_top_f_is_multiplier_times_classes_with_alphabetic_ties():
    records = [rec("red circle"), rec("red square"), rec("blue circle"), rec("green star")]
    result = tf.filter_captions(records, num_classes=1, multiplier=2.0, stopword_source="shipped")
    assert result.top_f == 2
    assert result.top_words == [("circle", 2), ("red", 2)]
    assert [r["text"] for r in result.dropped] == ["green star"]
    result3 = tf.filter_captions(records, num_classes=1, multiplier=3.0, stopword_source="shipped")
    assert [w for w, _ in result3.top_words] == ["circle", "red", "blue"]


def test_whole_word_match_man_does_not_keep_woman():
    records = [rec("a man smiling"), rec("a man outside"), rec("a woman outside"), rec("a woman smiling"),
               rec("man walking"), rec("portrait of a woman")]
    records.append(rec("old man"))  # "man" 4 times, "woman" 3: F = 1 keeps only "man"
    result = tf.filter_captions(records, num_classes=1, multiplier=1.0, stopword_source="shipped")
    assert result.top_words == [("man", 4)]
    assert all("woman" in r["text"] for r in result.dropped) and len(result.dropped) == 3
    assert all("woman" not in r["text"] for r in result.kept)


def test_disabled_filter_keeps_everything_but_still_reports_top_words():
    records = [rec("red circle", 0), rec("blue thing", 1), rec("nothing here at all", 1)]
    result = tf.filter_captions(records, num_classes=1, multiplier=1.0, enabled=False, stopword_source="shipped")
    assert len(result.kept) == 3 and not result.dropped
    assert result.metrics["keep_rate"] == 1.0 and result.metrics["enabled"] is False
    assert result.metrics["kept_per_class"] == {"0": 1}


def test_metrics_count_kept_and_dropped_per_class():
    records = [rec("red circle", 0), rec("red square", 1), rec("blue", 1)]
    m = tf.filter_captions(records, num_classes=2, multiplier=0.5, stopword_source="shipped").metrics
    assert (m["kept"], m["dropped"], m["keep_rate"]) == (2, 1, round(2 / 3, 4))
    assert m["kept_per_class"] == {"0": 1, "1": 1} and m["tokenizer"].startswith("nltk.")


def test_everything_filtered_out_raises_with_the_fix():
    records = [rec("a the of"), rec("on in at")]
    result = tf.filter_captions(records, num_classes=2, stopword_source="shipped")
    assert not result.kept and result.top_words == []
    with pytest.raises(DataError, match=r"f_multiplier.*mine.k.*captions_per_image.*text_filter.enabled: false"):
        tf.require_kept(result)


def test_empty_corpus_and_bad_source_raise():
    with pytest.raises(DataError, match="caption corpus is empty"):
        tf.filter_captions([], num_classes=2)
    with pytest.raises(ConfigError, match="text_filter.stopwords"):
        tf.load_stopwords("spacy")
