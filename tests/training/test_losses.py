"""The losses against a hand computation, and the lambda schedule."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from training.losses import info_nce, stage2_lambda, stage2_loss


def hand_infonce(a: list[list[float]], b: list[list[float]], scale: float) -> float:
    """Eq. 1 written out with plain floats: 1/2 (row CE + column CE) over S = a.b * scale."""
    n = len(a)
    s = [[scale * sum(x * y for x, y in zip(a[i], b[j])) for j in range(n)] for i in range(n)]
    rows = -sum(s[i][i] - math.log(sum(math.exp(v) for v in s[i])) for i in range(n)) / n
    cols = -sum(s[j][j] - math.log(sum(math.exp(s[i][j]) for i in range(n))) for j in range(n)) / n
    return 0.5 * (rows + cols)


def test_info_nce_matches_the_hand_computation() -> None:
    torch.manual_seed(0)
    a = F.normalize(torch.randn(5, 4), dim=-1)
    b = F.normalize(torch.randn(5, 4), dim=-1)
    scale = torch.tensor(math.log(10.0))
    got = float(info_nce(a, b, scale))
    assert got == pytest.approx(hand_infonce(a.tolist(), b.tolist(), 10.0), rel=1e-5)
    assert float(info_nce(a, a, torch.tensor(math.log(100.0)))) < 0.05  # perfect alignment: ~0


def test_same_species_pairs_are_positives() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([7, 7, 3])
    scale = torch.tensor(0.0)  # exp(0) = 1
    s = (a @ a.t()).tolist()
    # rows: targets 1/2 on both species-7 columns; by symmetry columns equal rows here
    expected = 0.0
    for i, row in enumerate(s):
        logz = math.log(sum(math.exp(v) for v in row))
        pos = [j for j in range(3) if labels[j] == labels[i]]
        expected += -sum((row[j] - logz) / len(pos) for j in pos)
    assert float(info_nce(a, a, scale, labels)) == pytest.approx(expected / 3, rel=1e-6)


def test_lambda_ramps_from_zero_to_a_tenth_over_two_epochs() -> None:
    assert stage2_lambda(0.0) == 0.0
    assert stage2_lambda(1.0) == pytest.approx(0.05)
    assert stage2_lambda(2.0) == pytest.approx(0.1)
    assert stage2_lambda(7.5) == pytest.approx(0.1)
    a, v, t = (F.normalize(torch.randn(4, 3), dim=-1) for _ in range(3))
    total, parts = stage2_loss(a, v, t, torch.tensor(1.0), 0.05)
    assert float(total) == pytest.approx(parts["atc"] + 0.05 * (parts["aic"] + parts["itc"]), rel=1e-6)


def test_learning_rate_schedule() -> None:
    from training.trainer import TrainConfig, lr_factor

    constant = TrainConfig()
    assert [lr_factor(s, constant, 100) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]
    cos = TrainConfig(warmup_steps=10, schedule="cosine")
    assert lr_factor(0, cos, 110) == pytest.approx(0.1)
    assert lr_factor(9, cos, 110) == pytest.approx(1.0)
    assert lr_factor(10, cos, 110) == pytest.approx(1.0)
    assert lr_factor(60, cos, 110) == pytest.approx(0.55)
    assert lr_factor(110, cos, 110) == pytest.approx(0.1)
