"""GCE against hand-computed values: the loss, and its gradient = CE gradient × p_y^q."""
import math

import pytest
import torch

from diffubias.losses import cross_entropy, generalized_cross_entropy

# Two samples over two classes with p = softmax([0, ln 3]) = [1/4, 3/4].
LOGITS = [[0.0, math.log(3.0)], [0.0, math.log(3.0)]]
TARGETS = [1, 0]  # p_y = 3/4 and 1/4


def test_gce_value_by_hand():
    logits, y = torch.tensor(LOGITS), torch.tensor(TARGETS)
    # q = 1/2: (1 - p_y^q) / q = 2 (1 - sqrt(p_y))
    got = generalized_cross_entropy(logits, y, q=0.5)
    assert got.tolist() == pytest.approx([2 * (1 - math.sqrt(0.75)), 1.0], abs=1e-6)
    # q = 1: 1 - p_y
    assert generalized_cross_entropy(logits, y, q=1.0).tolist() == pytest.approx([0.25, 0.75], abs=1e-6)


@pytest.mark.parametrize("q", [0.5, 0.7, 1.0])
def test_gce_gradient_is_ce_gradient_times_p_y_to_the_q(q):
    logits = torch.tensor(LOGITS, requires_grad=True)
    y = torch.tensor(TARGETS)
    generalized_cross_entropy(logits, y, q=q).sum().backward()
    # d CE / d logits = p - onehot(y): [1/4, -1/4] for y=1 and [-3/4, 3/4] for y=0
    ce_grad = torch.tensor([[0.25, -0.25], [-0.75, 0.75]])
    p_y = torch.tensor([0.75, 0.25])
    assert torch.allclose(logits.grad, ce_grad * p_y[:, None] ** q, atol=1e-6)
    # by hand for q = 1/2: sqrt(3/4) [1/4, -1/4] and 1/2 [-3/4, 3/4]
    if q == 0.5:
        expected = [[0.2165064, -0.2165064], [-0.375, 0.375]]
        assert logits.grad.tolist() == [pytest.approx(r, abs=1e-6) for r in expected]


def test_ce_by_hand():
    got = cross_entropy(torch.tensor(LOGITS), torch.tensor(TARGETS))
    assert got.tolist() == pytest.approx([-math.log(0.75), -math.log(0.25)], abs=1e-6)


@pytest.mark.parametrize("q", [0.0, -0.1, 1.5])
def test_gce_rejects_bad_q(q):
    with pytest.raises(ValueError, match="0 < q <= 1"):
        generalized_cross_entropy(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), q=q)
