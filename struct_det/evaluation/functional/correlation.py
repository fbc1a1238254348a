"""SRCC and PLCC of predicted structure scores, as the EvalMuse-Structure scorer computes them.

PLCC is measured after mapping the predictions through a fitted function. The released
scorer fits the 4-parameter logistic ``b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|))`` with
``curve_fit(p0=[max(gt), min(gt), mean(pred), std(pred)], maxfev=1e8)``; the challenge report
speaks of a third-order polynomial, offered as ``'poly3'``; ``'none'`` is the plain Pearson
correlation. Undefined values (fewer images than the fit needs, constant scores, a failed
fit) come back as NaN with a warning, never as an exception.
"""
import warnings
from typing import Sequence

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import pearsonr, spearmanr

PLCC_FITS = ('logistic4', 'poly3', 'none')
# The scorer's curve_fit budget.
LOGISTIC_MAXFEV = int(1e8)
# Fewest images each PLCC mapping is defined for (4 parameters need 4 points).
_MIN_IMAGES = {'logistic4': 4, 'poly3': 4, 'none': 2}


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The scorer's 4-parameter logistic (same arithmetic, so fits agree to the last bit).

    Args:
        x: predicted scores.
        b1: upper asymptote.
        b2: lower asymptote.
        b3: midpoint.
        b4: scale (its absolute value is used).

    Returns:
        np.ndarray: mapped scores.
    """
    return b2 + (b1 - b2) / (1 + np.exp(-((x - b3) / np.abs(b4))))


def _nan(name: str, why: str) -> float:
    warnings.warn(f'{name} is undefined ({why}); reporting NaN', RuntimeWarning, stacklevel=3)
    return float('nan')


def _degenerate(name: str, gt: np.ndarray, pred: np.ndarray, min_images: int):
    """Returns the reason a correlation is undefined, or None."""
    if gt.shape != pred.shape or gt.ndim != 1:
        raise ValueError(f'{name}: need two 1-D sequences of equal length, got shapes '
                         f'{gt.shape} and {pred.shape}')
    if len(gt) < min_images:
        return f'{len(gt)} image(s), at least {min_images} needed'
    if not (np.all(np.isfinite(gt)) and np.all(np.isfinite(pred))):
        return 'non-finite scores'
    if np.all(pred == pred[0]):
        return 'all predicted scores are equal'
    if np.all(gt == gt[0]):
        return 'all GT scores are equal'
    return None


def srcc(gt_scores: Sequence[float], pred_scores: Sequence[float]) -> float:
    """Spearman rank correlation on the raw predictions (``spearmanr(gt, pred)``).

    Args:
        gt_scores: GT MOS per image.
        pred_scores: predicted scores, same order.

    Returns:
        float: SRCC, or NaN (with a warning) when undefined.
    """
    gt, pred = np.array(gt_scores), np.array(pred_scores)
    why = _degenerate('SRCC', gt, pred, 2)
    if why:
        return _nan('SRCC', why)
    return float(spearmanr(gt, pred)[0])


def fit_scores(gt_scores: Sequence[float], pred_scores: Sequence[float],
               fit: str = 'logistic4') -> np.ndarray:
    """Maps predictions onto the GT scale with the PLCC's fitted function.

    Args:
        gt_scores: GT MOS per image.
        pred_scores: predicted scores, same order.
        fit: ``'logistic4'`` (the scorer), ``'poly3'`` or ``'none'`` (identity).

    Returns:
        np.ndarray: mapped predictions (float64).

    Raises:
        RuntimeError, ValueError, TypeError: when the fit fails.
    """
    gt, pred = np.array(gt_scores), np.array(pred_scores)
    if fit == 'none':
        return pred.astype(np.float64)
    if fit == 'poly3':
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', np.exceptions.RankWarning
                                  if hasattr(np, 'exceptions') else np.RankWarning)
            coeffs = np.polyfit(pred, gt, 3)
        return np.polyval(coeffs, pred)
    if fit != 'logistic4':
        raise ValueError(f"plcc_fit must be one of {PLCC_FITS}, got {fit!r}")
    p0 = [np.max(gt), np.min(gt), np.mean(pred), np.std(pred)]
    with warnings.catch_warnings(), np.errstate(over='ignore'):
        # exp overflow for far-out points and an inestimable covariance are harmless
        # here: only the fitted parameters are used.
        warnings.simplefilter('ignore', OptimizeWarning)
        popt, _ = curve_fit(logistic4, pred, gt, p0=p0, maxfev=LOGISTIC_MAXFEV)
        return logistic4(pred, *popt)


def plcc(gt_scores: Sequence[float], pred_scores: Sequence[float],
         fit: str = 'logistic4') -> float:
    """Pearson correlation between GT MOS and the fitted predictions.

    Args:
        gt_scores: GT MOS per image.
        pred_scores: predicted scores, same order.
        fit: ``'logistic4'`` (default, the released scorer), ``'poly3'`` (the report's
            wording) or ``'none'``.

    Returns:
        float: PLCC, or NaN (with a warning) when undefined or the fit fails.
    """
    if fit not in PLCC_FITS:
        raise ValueError(f"plcc_fit must be one of {PLCC_FITS}, got {fit!r}")
    gt, pred = np.array(gt_scores), np.array(pred_scores)
    why = _degenerate('PLCC', gt, pred, _MIN_IMAGES[fit])
    if why:
        return _nan('PLCC', why)
    try:
        fitted = fit_scores(gt_scores, pred_scores, fit)
    except (RuntimeError, ValueError, TypeError, FloatingPointError,
            np.linalg.LinAlgError) as err:
        return _nan('PLCC', f'the {fit} fit failed: {err}')
    if not np.all(np.isfinite(fitted)):
        return _nan('PLCC', f'the {fit} fit produced non-finite values')
    if np.all(fitted == fitted[0]):
        return _nan('PLCC', f'the {fit} fit maps every prediction to one value')
    return float(pearsonr(gt, fitted)[0])
