"""The baselines against their formulas (LfF, GroupDRO, resampling, DFR, JTT) and bad input."""
import dataclasses

import numpy as np
import pytest
import torch

from diffubias.config import DFRParams, parse_params
from diffubias.data import ImageSet, load_benchmark_split
from diffubias.errors import ConfigError, DataError
from diffubias.methods import METHODS, Batch, MethodContext, get_method
from diffubias.methods import dfr as dfr_module
from diffubias.methods.dfr import select_c, stratified_halves
from diffubias.methods.groupdro import group_mean_losses, groupdro_step
from diffubias.methods.jtt import upweighted_indices
from diffubias.methods.lff import SampleLossEMA, lff_weights
from diffubias.methods.resample import balanced_sample_weights, group_balanced_indices
from diffubias.losses import cross_entropy
from diffubias.training import make_batch

from conftest import replace


def _splits(params):
    train = load_benchmark_split(params.data, "colour", "train", "5")
    valid = load_benchmark_split(params.data, "colour", "valid")
    return train, valid


def _context(params, train, valid=None, seed=0):
    return MethodContext(train, params, params.data.image_size, torch.device("cpu"), seed, valid)


# -- LfF ----------------------------------------------------------------------------------
def test_lff_ema_first_update_raw_then_alpha_and_class_max():
    ema = SampleLossEMA(torch.tensor([0, 0, 1]), num_classes=2, alpha=0.7)
    ema.update(torch.tensor([0, 2]), torch.tensor([2.0, 1.0]))
    assert ema.values.tolist() == pytest.approx([2.0, 0.0, 1.0])  # first update stores the raw loss
    ema.update(torch.tensor([0, 1]), torch.tensor([1.0, 4.0]))
    # sample 0: 0.7 * 2 + 0.3 * 1 = 1.7; sample 1 is seen for the first time: 4.0
    assert ema.values.tolist() == pytest.approx([1.7, 4.0, 1.0])
    assert ema.class_max().tolist() == pytest.approx([4.0, 1.0])
    assert ema.normalized(torch.tensor([0, 1, 2])).tolist() == pytest.approx([1.7 / 4.0, 1.0, 1.0])


def test_lff_weight_formula():
    w = lff_weights(torch.tensor([0.5, 0.0, 1.0, 0.3]), torch.tensor([0.5, 1.0, 0.0, 0.1]))
    assert w.tolist() == pytest.approx([0.5 / (1 + 1e-8), 0.0, 1 / (1 + 1e-8), 0.3 / (0.4 + 1e-8)])
    assert lff_weights(torch.zeros(1), torch.zeros(1)).tolist() == [0.0]  # no 0/0


def test_lff_update_stores_both_networks_raw_losses(tiny_params):
    train, valid = _splits(tiny_params)
    lff = get_method("lff")(_context(tiny_params, train, valid))
    idx = torch.arange(8)
    batch = make_batch(train, idx, torch.device("cpu"), tiny_params.train, None)
    with torch.no_grad():
        ce_b = cross_entropy(lff.biased_model(batch.x), batch.y)
        ce_d = cross_entropy(lff.model(batch.x), batch.y)
    before = [p.clone() for p in lff.biased_model.parameters()]
    logs = lff.update(batch)
    assert torch.allclose(lff.ema_b.values[idx], ce_b, atol=1e-6)
    assert torch.allclose(lff.ema_d.values[idx], ce_d, atol=1e-6)
    assert not lff.ema_b.updated[8:].any()
    assert any(not torch.equal(a, b) for a, b in zip(before, lff.biased_model.parameters()))  # B trains too
    assert 0.0 <= logs["weight"] <= 1.0


# -- GroupDRO -----------------------------------------------------------------------------
def test_groupdro_weights_on_a_hand_made_batch():
    losses = torch.tensor([1.0, 3.0, 2.0, 0.5])
    groups = torch.tensor([0, 0, 2, 3])
    means, counts = group_mean_losses(losses, groups, 4)
    assert means.tolist() == pytest.approx([2.0, 0.0, 2.0, 0.5])  # group 1 absent: loss 0, not NaN
    assert counts.tolist() == [2, 0, 1, 1]
    q = groupdro_step(torch.full((4,), 0.25), means, eta=0.1)
    # 0.25 exp(0.1 * l_g), normalised: e^0.2 / (2 e^0.2 + 1 + e^0.05), ...
    assert q.tolist() == pytest.approx([0.2717806, 0.2225151, 0.2717806, 0.2339237], abs=1e-6)
    assert groupdro_step(torch.tensor([0.5, 0.0, 0.5, 0.0]), means, 0.1)[[1, 3]].tolist() == [0.0, 0.0]


def test_groupdro_ignores_groups_empty_in_train(tiny_params):
    train, valid = _splits(tiny_params)
    dro = get_method("groupdro")(_context(tiny_params, train, valid))
    empty = torch.bincount(train.groups, minlength=train.num_groups) == 0
    assert empty.any() and (dro.group_weights[empty] == 0).all()
    assert dro.group_weights.sum().item() == pytest.approx(1.0)
    batch = make_batch(train, torch.arange(16), torch.device("cpu"), tiny_params.train, None)
    logs = dro.update(batch)
    assert np.isfinite(logs["loss"]) and (dro.group_weights[empty] == 0).all()
    assert dro.finalize()["empty_train_groups"] == int(empty.sum())


# -- resampling ---------------------------------------------------------------------------
def test_group_balanced_sampler_frequencies():
    groups = torch.tensor([0] * 100 + [1] * 10 + [3] * 1)  # group 2 empty
    counts = torch.bincount(groups, minlength=4)
    weights = balanced_sample_weights(groups, counts)
    assert weights.sum().item() == pytest.approx(1.0)
    draws = group_balanced_indices(weights, 6000, torch.Generator().manual_seed(0))
    freq = torch.bincount(groups[draws], minlength=4).double() / len(draws)
    assert freq[2] == 0
    assert freq[[0, 1, 3]].tolist() == pytest.approx([1 / 3] * 3, abs=0.03)


def test_resample_epoch_is_group_balanced(tiny_params):
    train, valid = _splits(tiny_params)
    method = get_method("resample")(_context(tiny_params, train, valid))
    order = method.epoch_indices(1, torch.Generator().manual_seed(0))
    assert len(order) == len(train)
    conflicting = (~train.aligned[order]).double().mean().item()
    present = (torch.bincount(train.groups, minlength=train.num_groups) > 0)
    expected = (present.sum() - 10) / present.sum()  # 10 aligned groups, the rest conflicting
    assert (~train.aligned).double().mean().item() < 0.1  # the train set is 95 % aligned ...
    assert conflicting == pytest.approx(expected.item(), abs=0.06)  # ... the sampler's epoch is not


# -- DFR ----------------------------------------------------------------------------------
def test_stratified_halves_split_every_group():
    groups = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    a, b = stratified_halves(groups, torch.Generator().manual_seed(0))
    assert sorted(a.tolist() + b.tolist()) == list(range(9))
    assert torch.bincount(groups[a], minlength=3).tolist() == [2, 1, 2]
    assert torch.bincount(groups[b], minlength=3).tolist() == [1, 1, 2]


def test_dfr_chooses_c_on_the_held_out_half():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] > 0).astype(int)
    bias = np.zeros(200, dtype=int)
    p = DFRParams(c_grid=(1.0, 1e-4))
    # Held-out labels agree with the fit half: the informative (weakly regularised) head wins.
    best, scores = select_c(p, x[:100], y[:100], x[100:], y[100:], bias[100:], 2, 1, 0)
    assert best == 1.0 and scores[1.0] > 90.0
    # Held-out labels flipped: C is chosen on that half, so the head that learned nothing wins.
    best, scores = select_c(p, x[:100], y[:100], x[100:], 1 - y[100:], bias[100:], 2, 1, 0)
    assert best == 1e-4 and scores[1.0] < 10.0


def _dfr_valid(tiny_params):
    # The tiny world has one validation sample per group; DFR needs two per group, so these
    # tests give it the tiny valid ∪ test split as its (only) held-out data.
    valid = load_benchmark_split(tiny_params.data, "colour", "valid")
    return ImageSet.concat([valid, load_benchmark_split(tiny_params.data, "colour", "test")])


def test_dfr_reads_only_the_validation_split(tiny_params, monkeypatch):
    train, _ = _splits(tiny_params)
    valid = _dfr_valid(tiny_params)
    method = get_method("dfr")(_context(tiny_params, train, valid))
    seen = []
    real = dfr_module.extract_features
    monkeypatch.setattr(dfr_module, "extract_features", lambda m, d, *a: seen.append(d) or real(m, d, *a))

    def no_disk(*args, **kwargs):
        raise AssertionError("DFR must not load any split from disk (the test split least of all)")

    monkeypatch.setattr("diffubias.data.load_split", no_disk)
    before = method.model.head.weight.clone()
    extra = method.finalize()
    assert seen and all(d is valid for d in seen)
    assert extra["dfr_c"] in tiny_params.dfr.c_grid and set(extra["dfr_select_scores"]) == {str(c) for c in tiny_params.dfr.c_grid}
    assert extra["dfr_select_samples"] == len(valid) // 3  # 3 per group: 2 fit, 1 held out
    assert not torch.equal(before, method.model.head.weight)  # the chosen head is written into the model


def test_dfr_empty_group_in_valid_is_a_clear_error(tiny_params):
    train, valid = _splits(tiny_params)  # one validation sample per group: cannot be halved
    method = get_method("dfr")(_context(tiny_params, train, valid))
    with pytest.raises(DataError, match=r"'dfr'.*valid split.*fewer than 2.*0/0"):
        method.finalize()


# -- JTT ----------------------------------------------------------------------------------
def test_jtt_upweights_the_error_set():
    order = upweighted_indices(10, torch.tensor([2, 5]), 4, torch.Generator().manual_seed(0))
    assert len(order) == 10 + 2 * 3
    assert torch.bincount(order, minlength=10).tolist() == [1, 1, 4, 1, 1, 4, 1, 1, 1, 1]


def test_jtt_error_set_is_rich_in_conflicting_samples(tiny_params):
    train, valid = _splits(tiny_params)
    params = replace(replace(tiny_params, "train", lr=3e-3), "jtt", identification_epochs=3, upweight=5)
    jtt = get_method("jtt")(_context(params, train, valid))
    errors = jtt.error_set
    assert 0 < len(errors) < len(train) // 2
    # enriched in conflicting samples (measured 2.5–4× the base rate on the tiny world, depending on thread count)
    assert (~train.aligned[errors]).double().mean() > 2 * (~train.aligned).double().mean()
    counts = torch.bincount(jtt.epoch_indices(1, torch.Generator().manual_seed(0)), minlength=len(train))
    assert (counts[errors] == 5).all() and counts.sum() == len(train) + 4 * len(errors)


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in METHODS.names() if get_method(n).bias_supervised])
def test_bias_supervised_methods_need_bias_labels(name, tiny_params):
    train, valid = _splits(tiny_params)
    unlabelled = dataclasses.replace(train, bias=torch.full_like(train.bias, -1))
    with pytest.raises(DataError, match=rf"'{name}' is bias-supervised: it needs .*bias"):
        get_method(name)(_context(tiny_params, unlabelled, valid))


@pytest.mark.parametrize("name", ["groupdro", "resample"])
def test_empty_train_group_error_names_method_split_and_group(name, tiny_params):
    train, valid = _splits(tiny_params)
    params = replace(tiny_params, name, empty_groups="error")
    with pytest.raises(DataError, match=rf"'{name}'.*of the train split have no sample: \d+/\d+.*empty_groups: skip"):
        get_method(name)(_context(params, train, valid))


@pytest.mark.parametrize("section,raw,key", [
    ("lff", {"q": 0.0}, "lff.q"), ("lff", {"ema_alpha": 1.0}, "lff.ema_alpha"),
    ("groupdro", {"eta": -1.0}, "groupdro.eta"), ("dfr", {"c_grid": []}, "dfr.c_grid"),
    ("jtt", {"upweight": 0}, "jtt.upweight"), ("dfr", {"solver": "lbfgs"}, "dfr.solver"),
])
def test_bad_method_params_name_the_key(section, raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_params({section: raw})


def test_batch_groups_match_dataset_groups(tiny_params):
    train, _ = _splits(tiny_params)
    batch: Batch = make_batch(train, torch.arange(32), torch.device("cpu"), tiny_params.train, None)
    assert torch.equal(batch.group, train.groups[:32])
