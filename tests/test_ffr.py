"""FFR / USB / ASB: synthetic amounts, data sets with a source axis, stage-1 → stage-2 weights, frozen BN."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import replace

from diffubias.config import parse_params
from diffubias.data import ImageSet, Vocabulary
from diffubias.errors import ConfigError, DataError, RegistryError
from diffubias.ffr.counts import balanced_per_group, biased_counts, budget, pool_per_group, usb_deficits, usb_need
from diffubias.ffr.prompts import render_prompt, subgroup_corpus, template_for
from diffubias.ffr.runs import check_runs, get_run, plan_cell, training_set
from diffubias.ffr.synthetic import balanced, take_per_group, with_source_axis
from diffubias.ffr.train import freeze_batchnorm, run_phases, starter, state_of
from diffubias.methods import get_method
from diffubias.methods.base import MethodContext


def make_set(labels: list[int], bias: list[int], n_cls: int = 2, n_bias: int = 2, prefix: str = "real") -> ImageSet:
    n = len(labels)
    return ImageSet(torch.randint(0, 255, (n, 3, 8, 8), dtype=torch.uint8), torch.tensor(labels), torch.tensor(bias),
                    [f"{prefix}/{i}.png" for i in range(n)], n_cls, n_bias, list(range(n_cls)))


def pool_set(per_group: int, n_cls: int = 2, n_bias: int = 2) -> ImageSet:
    g = n_cls * n_bias
    idx = list(range(per_group * g))
    return make_set([(i % g) // n_bias for i in idx], [(i % g) % n_bias for i in idx], n_cls, n_bias, "synthetic")


def test_usb_fills_exactly_the_under_represented_groups():
    counts = torch.tensor([5, 1, 0, 3])
    add = usb_deficits(counts, usb_need(counts))
    assert add.tolist() == [0, 4, 5, 2] and usb_need(counts) == 11
    assert (counts + add).unique().tolist() == [5]


def test_usb_with_a_smaller_budget_raises_the_emptiest_groups_first():
    counts = torch.tensor([5, 1, 0, 3])
    assert usb_deficits(counts, 3).tolist() == [0, 1, 2, 0]  # level 2
    assert usb_deficits(counts, 4).tolist() == [0, 2, 2, 0]  # level 2, the remainder to the lowest id there
    assert int(usb_deficits(counts, 100).sum()) == 11  # never more than full balance


def test_budget_defaults_to_what_usb_needs_and_rejects_bad_values():
    counts = torch.tensor([90, 2, 3, 95])
    assert budget("match_usb", 1.0, counts) == usb_need(counts) == 5 + 93 + 92
    assert budget("match_usb", 0.5, counts) == 95
    assert budget(40, 1.0, counts) == 40
    with pytest.raises(DataError, match="already balanced"):
        budget("match_usb", 1.0, torch.tensor([4, 4, 4, 4]))
    with pytest.raises(ConfigError, match="ffr.images"):
        budget(0, 1.0, counts)
    assert balanced_per_group(190, 4) == 48  # ASB / FFR use the same amount as USB


def test_pool_serves_every_ratio_and_biased_counts_follow_real_proportions():
    low, high = torch.tensor([10, 0, 1, 10]), torch.tensor([8, 2, 2, 8])
    need = pool_per_group([low, high], "match_usb", 1.0)
    assert need == max(int(usb_deficits(low, usb_need(low)).max()), balanced_per_group(usb_need(low), 4)) == 10
    assert biased_counts(torch.tensor([10, 0, 1, 10]), 5).tolist() == [5, 0, 0, 5]


def test_balanced_usb_and_asb_sets():
    real = make_set([0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 0])  # groups 0:2, 1:1, 2:1, 3:3
    pool = pool_set(4)
    plan = plan_cell(real, "match_usb", 1.0)
    assert plan.total == 5 and plan.usb.tolist() == [1, 2, 2, 0] and plan.per_group == 1
    bal = training_set("balanced", real, pool, plan)
    assert torch.bincount(bal.groups, minlength=4).tolist() == [1, 1, 1, 1]
    usb = training_set("usb", real, pool, plan)
    real_part = torch.bincount(real.groups, minlength=4)
    syn = usb.bias >= real.num_bias
    after = torch.bincount((usb.labels * 2 + usb.bias % 2), minlength=4)
    assert int(syn.sum()) == plan.total and after.tolist() == [3, 3, 3, 3] and real_part.sum() == 7
    asb = training_set("asb", real, pool, plan)
    assert len(asb) == len(real) + 4 and asb.num_bias == 4
    with pytest.raises(DataError, match="ffr-generate"):
        take_per_group(pool, torch.tensor([5, 0, 0, 0]))


def test_source_axis_gives_class_bias_source_groups():
    real, syn = make_set([1], [1]), balanced(pool_set(1), 1)
    mixed = with_source_axis(real, syn)
    assert mixed.num_bias == 4 and mixed.num_groups == 8
    # real (1, 1) -> 1*4 + 1; synthetic (c, b) -> c*4 + b + 2
    assert mixed.groups.tolist() == [5, 2, 3, 6, 7]


def test_prompts_follow_the_template_with_articles():
    vocab = Vocabulary(("star", "arrow"), ("orange", "red"), (0, 1), "colour")
    p = parse_params({}).ffr
    assert template_for(p, vocab, "colour") == "a photo of a {bias} {class}"
    corpus = subgroup_corpus(vocab, template_for(p, vocab, "colour"))
    assert [c["text"] for c in corpus] == ["a photo of an orange star", "a photo of a red star",
                                           "a photo of an orange arrow", "a photo of a red arrow"]
    assert corpus[3]["image"] == "subgroup_1_1" and corpus[2]["label"] == 1
    assert render_prompt("A photo of {bias} {class}", "smiling person", "male") == "A photo of male smiling person"
    with pytest.raises(ConfigError, match="ffr.template"):
        template_for(p, Vocabulary(("a",), ("b",), (0,), "texture"), "mine")
    with pytest.raises(ConfigError, match=r"ffr\.template"):
        parse_params({"ffr": {"template": "a photo of {class}"}})
    with pytest.raises(RegistryError):
        get_run("ffr-nope")
    with pytest.raises(ConfigError, match="ffr.runs"):
        check_runs(("ffr-erm", "nope"))


def _world_sets(params, ratio="5"):
    from diffubias.data import load_benchmark_split

    real = load_benchmark_split(params.data, "colour", "train", ratio)
    valid = load_benchmark_split(params.data, "colour", "valid")
    return real.subset(list(range(0, len(real), 4))), valid  # 100 images: a few optimiser steps


@pytest.mark.slow
def test_stage2_starts_from_stage1_weights(tiny_params):
    params = replace(replace(tiny_params, "train", epochs=1), "ffr", lr_grid=(1e-12,))
    real, valid = _world_sets(params)
    ctx = MethodContext(real, params, 16, torch.device("cpu"), 0, valid)
    pretrained = state_of(get_method("erm")(dataclasses.replace(ctx, seed=123)).model)
    fresh = state_of(get_method("erm")(ctx).model)
    state, records = run_phases(get_run("ffr-erm"), {"real": real}, valid, params, 0, pretrained)
    assert records[0]["lr"] == 1e-12 and records[0]["data"] == "real"
    assert all(torch.allclose(state[k].float(), pretrained[k].float(), atol=1e-5) for k in state)
    assert not all(torch.allclose(state[k].float(), fresh[k].float(), atol=1e-5) for k in state)
    none_state, _ = run_phases(get_run("none-erm"), {"real": real}, valid, params, 0, pretrained)
    assert not torch.allclose(none_state["head.weight"], pretrained["head.weight"], atol=1e-5)


@pytest.mark.slow
def test_frozen_batchnorm_stays_frozen_while_the_rest_trains(tiny_params):
    params = replace(replace(tiny_params, "train", arch="cnn", epochs=1), "ffr", lr_grid=(1e-2,), frozen_bn=True)
    real, valid = _world_sets(params)
    ctx = MethodContext(real, params, 16, torch.device("cpu"), 0, valid)
    pretrained = state_of(get_method("erm")(ctx).model)
    pretrained = {k: (v * 2.0 if "running_var" in k else v) for k, v in pretrained.items()}  # not the init values
    state, records = run_phases(get_run("ffr-erm"), {"real": real}, valid, params, 0, pretrained)
    assert records[0]["frozen_bn"] is True
    bn = [k for k in state if "running_" in k or k.endswith(("1.weight", "1.bias")) and ".1." in k]
    assert bn and all(torch.equal(state[k], pretrained[k]) for k in bn)
    changed = [k for k in state if not torch.equal(state[k], pretrained[k])]
    assert "body.0.0.weight" in changed, (changed, records)
    free, _ = run_phases(get_run("ffr-erm"), {"real": real}, valid, replace(params, "ffr", frozen_bn=False), 0, pretrained)
    assert not all(torch.equal(free[k], pretrained[k]) for k in bn)


def test_freeze_batchnorm_survives_train_mode():
    from diffubias.models import build_model

    model = build_model("cnn", 3, 16)
    assert freeze_batchnorm(model) == 4
    model.train()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert model.training and all(not m.training and not m.weight.requires_grad for m in norms)
    hook = starter(None, True)
    assert hook is None
