"""The DiffuBias stages end to end on the tiny world, with tiny stand-ins for the foundation models."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from diffubias_helpers import FakeCaptioner, tiny_pipeline

from diffubias import artifacts, paths
from diffubias.errors import ConfigError, DataError
from diffubias.foundation import loading
from stages import caption, filter_captions, generate, mine, train_debiased
from stages.evaluate import evaluate
from stages.train import train_run
from diffubias.config import load_params

CELL = dict(benchmark="colour", ratio="5", seed=0)


class StopwordCaptioner(FakeCaptioner):
    def caption(self, images, k, seed, batch_size=32):
        return [["a the of"] * k for _ in images]  # nothing but stopwords


@pytest.fixture
def workdir(tmp_path, monkeypatch, tiny_data_root) -> Path:
    """A working directory with params.yaml for the tiny world and patched model loaders."""
    monkeypatch.chdir(tmp_path)
    raw = {"data": {"root": str(tiny_data_root), "image_size": 16},
           "train": {"epochs": 2, "batch_size": 32, "eval_batch_size": 256, "lr_decay_step": 1},
           "tracking": {"codecarbon": False},
           "mine": {"k": 8},
           "caption": {"captions_per_image": 3, "batch_size": 4},
           "generate": {"images": 10, "batch_size": 4, "steps": 2, "reference": ""}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(loading, "load_captioner", lambda model, **kw: FakeCaptioner())
    monkeypatch.setattr(loading, "load_generator", lambda model, **kw: tiny_pipeline())
    train_run("biased", "colour", "5", 0, load_params("params.yaml"))
    return tmp_path


P = Path("params.yaml")


@pytest.mark.slow
def test_pipeline_mine_caption_filter_generate_train_evaluate(workdir):
    mine.mine(**CELL, params_file=P)
    table = list(csv.DictReader(open(artifacts.mined_table(**CELL))))
    assert len(table) == 8 and [int(r["rank"]) for r in table] == list(range(8))
    m = json.loads(artifacts.stage_metrics("mine", **CELL).read_text())
    assert 0 <= m["precision_at_k"] <= 100 and m["conflicting_in_train"] == 20 and m["mined"] == 8

    caption.caption(**CELL, params_file=P)
    lines = artifacts.captions_file(**CELL).read_text().splitlines()
    assert len(lines) == 24 and json.loads(lines[0])["image"] == table[0]["id"]
    assert json.loads(artifacts.stage_metrics("caption", **CELL).read_text())["images_per_s"] > 0

    for variant in artifacts.VARIANTS:
        filter_captions.filter_command(**CELL, variant=variant, params_file=P)
    on = json.loads(artifacts.stage_metrics("filter", **CELL, variant="diffubias").read_text())
    off = json.loads(artifacts.stage_metrics("filter", **CELL, variant="diffubias_nofilter").read_text())
    assert on["kept"] + on["dropped"] == 24 and on["top_f"] == 20 and off["keep_rate"] == 1.0

    generate.generate(**CELL, variant="diffubias", params_file=P)
    g = json.loads(artifacts.stage_metrics("generate", **CELL, variant="diffubias").read_text())
    assert (g["images"], g["written"]) == (10, 10) and "skipped" in g["fidelity"]
    generate.generate(**CELL, variant="diffubias", params_file=P)  # a rerun renders nothing
    assert json.loads(artifacts.stage_metrics("generate", **CELL, variant="diffubias").read_text())["written"] == 0

    train_debiased.train_debiased(**CELL, variant="diffubias", params_file=P)
    t = json.loads(paths.train_metrics("diffubias", **CELL).read_text())
    assert (t["generated_samples"], t["train_samples"]) == (10, 410)
    evaluate(run="diffubias", **CELL, params_file=P)
    assert 0 <= json.loads(paths.test_metrics("diffubias", **CELL).read_text())["unbiased_acc"] <= 100


@pytest.mark.slow
def test_stage_errors_say_what_to_change(workdir, monkeypatch):
    with pytest.raises(DataError, match="run `diffubias mine`"):
        caption.caption(**CELL, params_file=P)
    mine.mine(**CELL, params_file=P)
    monkeypatch.setattr(loading, "load_captioner", lambda model, **kw: StopwordCaptioner())
    caption.caption(**CELL, params_file=P)
    with pytest.raises(DataError, match="text_filter.enabled: false"):
        filter_captions.filter_command(**CELL, variant="diffubias", params_file=P)
    filter_captions.filter_command(**CELL, variant="diffubias_nofilter", params_file=P)  # the off switch works
    with pytest.raises(DataError, match="run `diffubias generate`"):
        train_debiased.train_debiased(**CELL, variant="diffubias_nofilter", params_file=P)
    raw = yaml.safe_load(P.read_text())
    raw["debiased"] = {"method": "groupdro"}
    P.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="needs bias labels"):
        train_debiased.train_debiased(**CELL, variant="diffubias", params_file=P)
    with pytest.raises(ConfigError, match="unknown DiffuBias variant"):
        filter_captions.filter_command(**CELL, variant="nofilter", params_file=P)


def test_generated_arms_split_by_the_reference_and_keep_sizes():
    import torch

    from diffubias.data import ImageSet
    from stages.diagnose_generated import generated_arms

    gen = ImageSet(torch.zeros(6, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1, 2, 0, 1, 2]),
                   torch.full((6,), -1), [f"generated/{i}.png" for i in range(6)], 3, 3, [0, 1, 2])
    seen = torch.tensor([0, 2, 2, 1, 1, 0])  # the reference recognises images 0, 2, 4
    arms = generated_arms(gen, seen, seed=0)
    assert arms["label_clean"].paths == ["generated/0.png", "generated/2.png", "generated/4.png"]
    assert len(arms["size_matched"]) == 3 and arms["size_matched"].paths == generated_arms(gen, seen, 0)[
        "size_matched"].paths  # seeded
    assert arms["relabelled"].labels.tolist() == seen.tolist() and len(arms["relabelled"]) == 6


@pytest.mark.slow
def test_diagnose_generated_retrains_on_each_arm(workdir):
    import torch

    from diffubias.foundation.reference import ReferenceClassifier, save_reference
    from stages.diagnose_generated import diagnose_generated, diagnose_metrics

    mine.mine(**CELL, params_file=P)
    caption.caption(**CELL, params_file=P)
    filter_captions.filter_command(**CELL, variant="diffubias", params_file=P)
    generate.generate(**CELL, variant="diffubias", params_file=P)
    with pytest.raises(ConfigError, match="generate.reference"):
        diagnose_generated(**CELL, variant="diffubias", params_file=P)
    torch.manual_seed(0)
    save_reference(ReferenceClassifier((4, 8), 16), workdir / "ref")
    raw = yaml.safe_load(P.read_text())
    raw["generate"]["reference"] = str(workdir / "ref")
    P.write_text(yaml.safe_dump(raw))
    diagnose_generated(**CELL, variant="diffubias", params_file=P)
    d = json.loads(diagnose_metrics("diffubias", **CELL).read_text())
    assert d["generated"] == 10 and d["relabelled"]["generated_samples"] == 10
    assert d["label_clean"]["generated_samples"] == d["size_matched"]["generated_samples"] <= 10
    for arm in ("label_clean", "size_matched", "relabelled"):  # an empty arm is skipped with the reason, not trained
        assert ("skipped" in d[arm]) == (d[arm]["generated_samples"] == 0)
        assert "skipped" in d[arm] or 0 <= d[arm]["unbiased_acc"] <= 100
