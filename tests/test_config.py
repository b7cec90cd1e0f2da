"""params.yaml loading: strict sections, typed values, clear errors naming the key."""
from pathlib import Path

import pytest

from diffubias.config import load_params, parse_params
from diffubias.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_load_and_are_frozen():
    p = load_params(REPO / "params.yaml")
    assert p.biased.q == pytest.approx(0.7)
    assert p.grid.ratios and all(isinstance(r, str) for r in p.grid.ratios)
    with pytest.raises(AttributeError):
        p.train.lr = 1.0  # frozen


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"train\.learning_rate"):
        parse_params({"train": {"learning_rate": 0.1}})


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match="trainer"):
        parse_params({"trainer": {}})


@pytest.mark.parametrize("section,key,value,pattern", [
    ("train", "epochs", "ten", r"train\.epochs: expected an integer"),
    ("train", "lr", "fast", r"train\.lr: expected a number"),
    ("train", "select", "test", r"train\.select: 'test' is not one of"),
    ("grid", "seeds", 3, r"grid\.seeds: expected a list"),
    ("tracking", "codecarbon", "yes", r"tracking\.codecarbon: expected true/false"),
])
def test_wrong_types_are_named(section, key, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_params({section: {key: value}})


def test_numeric_ratios_become_folder_strings():
    p = parse_params({"grid": {"ratios": [0.5, 1, 2.0]}})
    assert p.grid.ratios == ("0.5", "1", "2")


def test_int_is_accepted_for_float():
    assert parse_params({"train": {"lr": 1}}).train.lr == 1.0


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
