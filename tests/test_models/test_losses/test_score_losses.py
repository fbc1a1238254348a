"""Score regression losses against independent numpy/scipy computations."""
import itertools

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from struct_det.models.losses import (NormInNormLoss, PairwiseRankingLoss,
                                      PLCCLoss, ScoreMSELoss)

PRED = [2.1, 3.4, 1.2, 4.8, 3.3, 2.0]
MOS = [2.0, 3.0, 1.0, 5.0, 2.6667, 2.0]


def _tensors(pred=PRED, target=MOS):
    return torch.tensor(
        pred, dtype=torch.float64, requires_grad=True), torch.tensor(
            target, dtype=torch.float64)


def test_norm_in_norm_matches_closed_form():
    pred, target = _tensors()
    rho = pearsonr(PRED, MOS)[0]
    # For unit-variance vectors: MSE(p, t) = 2 - 2 rho, MSE(rho p, t) = 1 -
    # rho^2.
    expected = ((2 - 2 * rho) / 4 + (1 - rho**2) / 4) / 2
    loss = NormInNormLoss(eps=0)(pred, target)
    assert loss.item() == pytest.approx(expected, rel=1e-9)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_norm_in_norm_ignores_scale_and_offset_and_weights():
    pred, target = _tensors()
    base = NormInNormLoss()(pred, target)
    shifted = NormInNormLoss()(pred * 7.5 - 3.0, target)
    assert shifted.item() == pytest.approx(base.item(), rel=1e-6)
    assert NormInNormLoss(loss_weight=2.5)(
        pred, target).item() == pytest.approx(2.5 * base.item())
    perfect = NormInNormLoss()(torch.tensor(MOS) * 0.3 + 1, torch.tensor(MOS))
    assert perfect.item() == pytest.approx(0.0, abs=1e-6)
    reversed_ = NormInNormLoss()(-torch.tensor(MOS), torch.tensor(MOS))
    # rho = -1: (1 + 0) / 2
    assert reversed_.item() == pytest.approx(0.5, abs=1e-6)


def test_plcc_loss_matches_scipy():
    pred, target = _tensors()
    expected = (1 - pearsonr(PRED, MOS)[0]) / 2
    assert PLCCLoss(eps=0)(pred, target).item() == pytest.approx(
        expected, rel=1e-9)
    # (N, 1) predictions, as a head returns them, are accepted.
    column = PLCCLoss(eps=0)(pred[:, None], target)
    assert column.item() == pytest.approx(expected, rel=1e-9)


def test_mse_matches_numpy():
    pred, target = _tensors()
    expected = np.mean((np.array(PRED) - np.array(MOS))**2)
    assert ScoreMSELoss(loss_weight=0.5)(pred, target).item() == pytest.approx(
        0.5 * expected)


def test_ranking_loss_matches_brute_force_and_skips_ties():
    pred, target = _tensors()
    margin = 0.3
    terms = [
        max(0.0, margin - (PRED[i] - PRED[j]))
        for i, j in itertools.permutations(range(len(MOS)), 2)
        if MOS[i] > MOS[j]
    ]
    # MOS[0] == MOS[5]: that pair is a tie and contributes in neither order.
    assert len(terms) == len(MOS) * (len(MOS) - 1) // 2 - 1
    loss = PairwiseRankingLoss(margin=margin)(pred, target)
    assert loss.item() == pytest.approx(np.mean(terms))
    loss.backward()
    assert pred.grad.abs().sum() > 0


def test_ranking_loss_all_tied_is_zero_with_graph():
    pred = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = PairwiseRankingLoss()(pred, torch.full((3, ), 2.0))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(3))


@pytest.mark.parametrize('loss_type',
                         [NormInNormLoss, PLCCLoss, PairwiseRankingLoss])
def test_batch_statistics_losses_refuse_single_sample(loss_type):
    with pytest.raises(ValueError, match='at least 2 samples'):
        loss_type()(torch.tensor([1.0]), torch.tensor([3.0]))


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match='3 predictions but 2 targets'):
        ScoreMSELoss()(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match=r'shape \(N,\) or \(N, 1\)'):
        PLCCLoss()(torch.zeros(3, 2), torch.zeros(6))


def test_loss_names_are_distinct_and_contain_loss():
    names = [
        cls().loss_name for cls in (NormInNormLoss, PLCCLoss, ScoreMSELoss,
                                    PairwiseRankingLoss)
    ]
    assert len(set(names)) == 4 and all('loss' in name for name in names)
