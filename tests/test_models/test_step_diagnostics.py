"""The step's monitoring values against brute-force definitions."""
import itertools

import pytest
import torch

from projects.aigcmatch.models.segmentors.step_diagnostics import (
    attention_auc, box_coverage, box_iou, confident_ratio_per_class)


def brute_auc(values, fg):
    pos, neg = values[fg], values[~fg]
    wins = sum((p > n) + 0.5 * (p == n)
               for p, n in itertools.product(pos.tolist(), neg.tolist()))
    return wins / (len(pos) * len(neg))


def test_auc_equals_the_pairwise_definition():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (3, 8, 8))
    spatial = (labels[:, None] > 0).float() * 0.3 + torch.rand(3, 1, 8, 8)
    expected = sum(
        brute_auc(spatial[i, 0].flatten(), labels[i].flatten() > 0)
        for i in range(3)) / 3
    # 256 bins of each image's range: exact up to ties the binning makes
    assert float(attention_auc(spatial, labels)) == pytest.approx(
        expected, abs=0.01)
    flat = torch.full((2, 1, 8, 8), 0.7)
    assert float(attention_auc(flat, labels[:2])) == pytest.approx(0.5)
    # images without foreground are left out; none left: 0.5
    empty = torch.zeros(2, 8, 8, dtype=torch.long)
    assert float(attention_auc(spatial[:2], empty)) == 0.5
    perfect = (labels[:1, None] > 0).float()
    assert float(attention_auc(perfect, labels[:1])) == 1.0
    # ignored pixels count for nothing, even where the map is high
    ignored = labels[:1].clone()
    ignored[0, 0, 0] = 255
    hot = perfect.clone()
    hot[0, 0, 0, 0] = 2.0
    assert float(attention_auc(hot, ignored)) == 1.0


def test_box_coverage_against_all_positions():
    fg = torch.zeros(1, 6, 6)
    fg[0, 1:3, 1:3] = 1.0  # 4 foreground pixels
    mask = torch.zeros(1, 6, 6, dtype=torch.bool)
    mask[0, 0:3, 0:3] = True  # covers all 4
    inside, random = box_coverage(mask, fg)
    assert float(inside) == 1.0
    shares = []
    for y in range(4):
        for x in range(4):
            shares.append(float(fg[0, y:y + 3, x:x + 3].sum()) / 4)
    assert float(random) == pytest.approx(sum(shares) / len(shares))
    no_box = torch.zeros_like(mask)
    assert [float(v) for v in box_coverage(no_box, fg)] == [0.0, 0.0]


def test_box_iou_and_class_ratios():
    a = torch.zeros(2, 4, 4, dtype=torch.bool)
    b = torch.zeros_like(a)
    a[0, :2, :2] = True
    b[0, :2, :1] = True
    a[1, :2, :2] = True  # sample 1: only one view has a box
    assert float(box_iou(a, b)) == pytest.approx(0.5)
    pseudo = torch.tensor([[0, 0, 1, 2]])
    confident = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    ratios = confident_ratio_per_class(confident, pseudo, 4)
    assert ratios.tolist() == [0.5, 1.0, 0.0, 0.0]
