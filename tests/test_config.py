"""params.yaml loading: strict sections, typed and bounded values, clear errors naming the key, one set of defaults."""
import dataclasses
from pathlib import Path

import pytest
import yaml

from diffubias.config import Params, TrainParams, as_flat_dict, load_params, parse_params
from diffubias.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
PRESETS = sorted((REPO / "presets").glob("*.yaml"))


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    message = str(info.value)
    assert "\n" not in message and message.startswith("params.yaml: ")
    return message


def load_params_text(text: str) -> Params:
    return parse_params(yaml.safe_load(text))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def test_repository_params_load_and_are_frozen():
    p = load_params(REPO / "params.yaml")
    assert p.biased.q == pytest.approx(0.7)
    assert p.grid.ratios and all(isinstance(r, str) for r in p.grid.ratios)
    with pytest.raises(AttributeError):
        p.train.lr = 1.0  # frozen


def test_params_yaml_equals_the_schema_defaults():
    loaded, defaults = load_params(REPO / "params.yaml"), Params()
    differ = {key: (value, as_flat_dict(defaults)[key]) for key, value in as_flat_dict(loaded).items()
              if (type(value), value) != (type(as_flat_dict(defaults)[key]), as_flat_dict(defaults)[key])}
    assert differ == {}, f"params.yaml (left) and the dataclass defaults (right) disagree: {differ}"
    assert loaded == defaults


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_over_params_yaml_is_valid(preset):
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    parse_params(_merge(base, yaml.safe_load(preset.read_text()) or {}), str(preset))


def test_unknown_key_is_named_with_the_valid_keys():
    message = _error({"train": {"learning_rate": 0.1}})
    assert "train.learning_rate: unknown key" in message and "'lr'" in message


def test_unknown_section_is_named():
    assert "trainer: unknown key" in _error({"trainer": {}})


@pytest.mark.parametrize("section,key,value,pattern", [
    ("train", "epochs", "ten", r"train\.epochs: expected an integer, got 'ten'"),
    ("train", "epochs", 2.0, r"train\.epochs: expected an integer, got 2\.0"),
    ("train", "epochs", True, r"train\.epochs: expected an integer, got True"),
    ("train", "epochs", "10", r"train\.epochs: expected an integer, got '10' \(.*remove the quotes\)"),
    ("train", "lr", "fast", r"train\.lr: expected a number, got 'fast'"),
    ("train", "select", "test", r"train\.select: 'test' is not one of 'valid' or 'last'"),
    ("train", "augment", "crop", r"train\.augment: expected a list"),
    ("grid", "seeds", 3, r"grid\.seeds: expected a list"),
    ("grid", "seeds", [0, "1"], r"grid\.seeds\[1\]: expected an integer"),
    ("data", "groups", {"bar": [6, "x"]}, r"data\.groups\.bar\[1\]: expected an integer"),
    ("tracking", "codecarbon", "yes", r"tracking\.codecarbon: expected true/false"),
    ("ffr", "images", "many", r"ffr\.images: expected an integer >= 1 or 'match_usb', got 'many'"),
])
def test_wrong_types_are_named(section, key, value, pattern):
    with pytest.raises(ConfigError, match=rf"^params\.yaml: {pattern}"):
        parse_params({section: {key: value}})


def test_a_section_that_is_not_a_mapping_is_named():
    assert "train: expected a mapping of options, got 5" in _error({"train": 5})


@pytest.mark.parametrize("text,written", [("1e-3", "1.0e-3"), ("3E-4", "3.0e-4"), ("1.0e3", "1.0e+3")])
def test_exponent_without_dot_gets_a_yaml_hint(text, written):
    raw = yaml.safe_load(f"train: {{lr: {text}}}")
    assert raw["train"]["lr"] == text  # PyYAML (YAML 1.1) really reads it as a string
    message = _error(raw)
    assert f"train.lr: expected a number, got '{text}'" in message
    assert f"write {written}: YAML reads {text} as a string" in message
    assert load_params_text(f"train: {{lr: {written}}}").train.lr == pytest.approx(float(text))


@pytest.mark.parametrize("key,value,pattern", [
    ("epochs", 0, "must be >= 1, got 0"),
    ("batch_size", 0, "must be >= 1, got 0"),
    ("eval_batch_size", -1, "must be >= 1, got -1"),
    ("lr", 0.0, "must be > 0, got 0.0"),
    ("lr", -0.001, "must be > 0, got -0.001"),
    ("lr", float("nan"), "expected a finite number, got nan"),
    ("lr", float("inf"), "expected a finite number, got inf"),
    ("lr", 1e39, r"must be <= .* \(the largest float32\), got 1e\+39"),
    ("weight_decay", -0.1, "must be >= 0, got -0.1"),
    ("weight_decay", float("inf"), "expected a finite number, got inf"),
    ("lr_decay_step", 0, "must be >= 1, got 0"),
    ("lr_decay_gamma", 0.0, "must be > 0, got 0.0"),
    ("lr_decay_gamma", 1.5, "must be <= 1, got 1.5"),
    ("threads", -1, "must be >= 0, got -1"),
    ("augment", ["crop", "rotate"], "'rotate' is not one of 'crop' or 'flip'"),
])
def test_training_bounds_are_enforced_and_named(key, value, pattern):
    with pytest.raises(ConfigError, match=rf"^params\.yaml: train\.{key}(\[\d+\])?: {pattern}"):
        parse_params({"train": {key: value}})


def test_training_bounds_accept_their_edges():
    t = parse_params({"train": {"lr_decay_gamma": 1.0, "threads": 0, "weight_decay": 0, "augment": [],
                                "epochs": 1, "batch_size": 1, "lr": 3.0e+38}}).train
    assert (t.lr_decay_gamma, t.threads, t.weight_decay, t.augment, t.epochs) == (1.0, 0, 0.0, (), 1)
    assert parse_params({"train": {"augment": ["crop", "flip"]}}).train.augment == ("crop", "flip")


@pytest.mark.parametrize("section,key,value", [
    ("t2i", "steps", 0), ("t2i", "vae_lr", 0.0), ("captioner", "batch_size", 0), ("reference", "lr", -1.0),
    ("ddb_diffusion", "batch_size", 1), ("ddb_sample", "steps", 0), ("ddb_ba", "epochs", 0), ("ffr", "lr_grid", [0.0]),
    ("ffr", "lr_grid", []), ("generate", "images", 0), ("mine", "k", 0), ("lff", "q", 0.0), ("biased", "q", 1.5),
    ("jtt", "upweight", 0), ("dfr", "c_grid", []), ("corpus", "caption_noise", 2.0), ("foundation_eval", "steps", 0),
])
def test_other_sections_reject_values_that_would_train_or_render_garbage(section, key, value):
    assert f"{section}.{key}" in _error({section: {key: value}})


def test_cross_field_checks_keep_their_key():
    assert "ddb_diffusion.channels: every entry must be a multiple of norm_groups=8" in _error(
        {"ddb_diffusion": {"channels": [8, 12]}})
    assert "ffr.template: must contain {class} and {bias}" in _error({"ffr": {"template": "a photo of {class}"}})


def test_several_errors_report_the_first_and_count_the_rest():
    message = _error({"train": {"epochs": 0, "lr": 0.0}, "jtt": {"upweight": 0}})
    assert "train.epochs: must be >= 1, got 0 (and 2 more errors)" in message


def test_numeric_ratios_become_folder_strings():
    p = parse_params({"grid": {"ratios": [0.5, 1, 2.0, 1.0]}, "world": {"ratios": [0.1, 10]},
                      "data": {"groups": {7: [2, 2]}}})
    assert p.grid.ratios == ("0.5", "1", "2", "1")
    assert p.world.ratios == ("0.1", "10")
    assert p.data.groups == {"7": (2, 2)}


def test_lists_become_tuples_and_ints_become_floats():
    p = parse_params({"train": {"lr": 1, "augment": ["flip"]}, "dfr": {"c_grid": [1, 0.5]}})
    assert p.train.lr == 1.0 and type(p.train.lr) is float
    assert p.train.augment == ("flip",) and p.dfr.c_grid == (1.0, 0.5)
    assert hash(p.train) == hash(dataclasses.replace(p.train))


def test_empty_section_means_defaults():
    assert parse_params(yaml.safe_load("train:\n  # epochs: 3\n")).train == TrainParams()


def test_replace_and_keyword_construction_revalidate():
    t = TrainParams(epochs=2)
    assert dataclasses.is_dataclass(t) and [f.name for f in dataclasses.fields(t)][:2] == ["arch", "epochs"]
    again = dataclasses.replace(t, lr=1, augment=["flip"])
    assert (again.lr, type(again.lr), again.augment, again.epochs) == (1.0, float, ("flip",), 2)
    with pytest.raises(ConfigError, match=r"^train\.epochs: must be >= 1, got 0$"):
        dataclasses.replace(t, epochs=0)
    with pytest.raises(ConfigError, match=r"^train\.epochs: expected an integer, got 'x'$"):
        TrainParams(epochs="x")
    with pytest.raises(ConfigError, match=r"^train\.nope: unknown key"):
        TrainParams(nope=1)
    p = dataclasses.replace(Params(), train=again)
    assert p.train is again and p.grid == Params().grid
    assert Params(train=TrainParams(epochs=3)).train.epochs == 3


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_params([1, 2])
