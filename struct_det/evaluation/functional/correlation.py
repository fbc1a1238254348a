"""SRCC and PLCC of predicted structure scores, as the EvalMuse-Structure
scorer computes them.

PLCC is measured after mapping the predictions through a fitted function.
The released scorer fits the 4-parameter logistic
``b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|))`` with
``curve_fit(p0=[max(gt), min(gt), mean(pred), std(pred)], maxfev=1e8)``; the
challenge report speaks of a third-order polynomial, offered as ``'poly3'``;
``'none'`` is the plain Pearson correlation. Undefined values (fewer images
than the fit needs, constant scores, a failed fit) come back as NaN with a
warning, never as an exception.

SciPy's own functions cost over a second of imports (``scipy.stats`` and
``scipy.optimize`` pull in ``scipy.linalg``, the array-API layer,
``numpy.testing``...), more than the whole region count of a test set. So the
numbers are computed here with the same floating-point operations, in the same
order, on the same arrays: SRCC as ``spearmanr`` (average-tie ranks of both
sides, then ``np.corrcoef`` on the ranks stacked as it stacks them), PLCC as
``pearsonr`` (scaled norms, ``np.vecdot``), and the logistic fit by calling
MINPACK's ``lmdif`` (the extension module ``scipy.optimize._minpack``, loaded
by itself) with the arguments ``curve_fit`` -> ``leastsq`` pass it. The tests
check the results are bit-identical to ``scipy.stats`` / ``curve_fit``. Inputs
off that path (not float64 or int, an extension that cannot be loaded) use
SciPy's functions, imported then.
"""
import importlib.machinery
import importlib.util
import os.path as osp
import sys
import warnings
from typing import Sequence

import numpy as np

PLCC_FITS = ('logistic4', 'poly3', 'none')
# The scorer's curve_fit budget.
LOGISTIC_MAXFEV = int(1e8)
# Fewest images each PLCC mapping is defined for (4 parameters need 4 points).
_MIN_IMAGES = {'logistic4': 4, 'poly3': 4, 'none': 2}


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float,
              b4: float) -> np.ndarray:
    """The scorer's 4-parameter logistic (same arithmetic, so fits agree to the
    last bit).

    Args:
        x (np.ndarray): predicted scores.
        b1 (float): upper asymptote.
        b2 (float): lower asymptote.
        b3 (float): midpoint.
        b4 (float): scale (its absolute value is used).

    Returns:
        np.ndarray: mapped scores.
    """
    return b2 + (b1 - b2) / (1 + np.exp(-((x - b3) / np.abs(b4))))


# leastsq's defaults, as curve_fit(method='lm') passes them to lmdif.
_LEASTSQ_FTOL = 1.49012e-8
_LEASTSQ_XTOL = 1.49012e-8
_LEASTSQ_GTOL = 0.0
_LEASTSQ_FACTOR = 100
_LEASTSQ_SUCCESS = (1, 2, 3, 4)
# The MINPACK extension once loaded (False: it cannot be, use curve_fit).
_MINPACK = None


def _minpack():
    """``scipy.optimize._minpack`` without running
    ``scipy/optimize/__init__.py``, or None.
    """
    global _MINPACK
    if _MINPACK is None:
        _MINPACK = sys.modules.get(
            'scipy.optimize._minpack') or _load_minpack() or False
    return _MINPACK or None


def _load_minpack():
    try:
        spec = importlib.util.find_spec('scipy')
        folder = osp.join(list(spec.submodule_search_locations)[0], 'optimize')
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = osp.join(folder, '_minpack' + suffix)
            if osp.isfile(path):
                ext = importlib.util.spec_from_file_location(
                    'scipy.optimize._minpack', path)
                module = importlib.util.module_from_spec(ext)
                ext.loader.exec_module(module)
                return module if hasattr(module, '_lmdif') else None
    except (ImportError, OSError, AttributeError, TypeError):
        pass
    return None


def _is_plain(arr: np.ndarray) -> bool:
    """float64 or integer 1-D data: the fast paths compute exactly what SciPy
    does.
    """
    return arr.ndim == 1 and (arr.dtype == np.float64
                              or arr.dtype.kind in 'iu')


def rankdata_average(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank
    (``rankdata(method='average')``).

    Args:
        values (np.ndarray): 1-D array without NaN.

    Returns:
        np.ndarray: float64 ranks (integers and halves, exact).
    """
    values = np.asarray(values)
    order = np.argsort(values, kind='stable')
    ordered = values[order]
    starts = np.empty(len(values), bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1  # tie group of each sorted position
    # 0-based group bounds
    edges = np.append(np.flatnonzero(starts), len(values))
    # Positions edges[g] .. edges[g + 1] - 1 share the rank (edges[g] + 1 +
    # edges[g + 1]) / 2.
    group_rank = (edges[:-1] + edges[1:] + 1) * 0.5
    ranks = np.empty(len(values), np.float64)
    ranks[order] = group_rank[group]
    return ranks


def _spearman(gt: np.ndarray, pred: np.ndarray) -> float:
    """``spearmanr(gt, pred)[0]`` for finite, non-constant 1-D float64/int
    data.
    """
    if not (_is_plain(gt) and _is_plain(pred)):
        from scipy.stats import spearmanr
        return float(spearmanr(gt, pred)[0])
    # spearmanr stacks the two columns (one common dtype), ranks each column
    # and runs np.corrcoef on the (n, 2) rank array, which it holds transposed
    # in memory: the same (2, n) C-ordered rows as stacked here.
    both = np.column_stack((gt, pred))
    ranks = np.stack(
        [rankdata_average(both[:, 0]),
         rankdata_average(both[:, 1])])
    return float(np.corrcoef(ranks.T, rowvar=False)[1, 0])


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """``pearsonr(x, y)[0]`` for finite, non-constant 1-D float64/int data."""
    if not (_is_plain(x) and _is_plain(y)):
        from scipy.stats import pearsonr
        return float(pearsonr(x, y)[0])
    x, y = x.astype(np.float64), y.astype(np.float64)
    if len(x) == 2:
        from scipy.stats import pearsonr  # pearsonr rounds this case to +-1
        return float(pearsonr(x, y)[0])
    xm = x - np.mean(x, axis=-1, keepdims=True)
    ym = y - np.mean(y, axis=-1, keepdims=True)
    xmax = np.max(np.abs(xm), axis=-1, keepdims=True)
    ymax = np.max(np.abs(ym), axis=-1, keepdims=True)
    with np.errstate(invalid='ignore', divide='ignore'):
        normxm = xmax * np.linalg.norm(
            xm / xmax, ord=2, axis=-1, keepdims=True)
        normym = ymax * np.linalg.norm(
            ym / ymax, ord=2, axis=-1, keepdims=True)
        r = np.vecdot(xm / normxm, ym / normym, axis=-1)
    return float(np.clip(r, -1., 1.))


def _curve_fit_logistic(pred: np.ndarray, gt: np.ndarray,
                        p0: list) -> np.ndarray:
    """``curve_fit(logistic4, pred, gt, p0=p0, maxfev=1e8)[0]`` (the fitted
    parameters).

    curve_fit(method='lm') -> leastsq -> MINPACK lmdif on ``logistic4(x, *p) -
    y``, with leastsq's defaults; lmdif's result depends only on its arguments
    and the residuals, so calling it the same way gives the same parameters to
    the last bit.
    """
    minpack = _minpack()
    if minpack is None or not hasattr(np, 'vecdot'):
        from scipy.optimize import OptimizeWarning, curve_fit
        warnings.simplefilter('ignore', OptimizeWarning)
        return curve_fit(logistic4, pred, gt, p0=p0, maxfev=LOGISTIC_MAXFEV)[0]
    xdata = np.asarray(pred, float)
    ydata = np.asarray(gt, float)
    x0 = np.atleast_1d(p0).flatten()
    if x0.size > ydata.size:
        raise TypeError(f'The number of func parameters={x0.size} must not '
                        f'exceed the number of data points={ydata.size}')

    def residuals(params):
        return logistic4(xdata, *params) - ydata

    # leastsq's output check, and its dtype's eps
    first = np.atleast_1d(residuals(x0))
    epsfcn = np.finfo(first.dtype).eps
    retval = minpack._lmdif(residuals, x0, (), 1, _LEASTSQ_FTOL, _LEASTSQ_XTOL,
                            _LEASTSQ_GTOL, LOGISTIC_MAXFEV, epsfcn,
                            _LEASTSQ_FACTOR, None)
    info = retval[-1]
    if info == 0:
        raise TypeError('Improper input parameters.')
    if info not in _LEASTSQ_SUCCESS:
        raise RuntimeError('Optimal parameters not found: MINPACK lmdif '
                           f'returned {info}')
    return retval[0]


def _nan(name: str, why: str) -> float:
    warnings.warn(
        f'{name} is undefined ({why}); reporting NaN',
        RuntimeWarning,
        stacklevel=3)
    return float('nan')


def _degenerate(name: str, gt: np.ndarray, pred: np.ndarray, min_images: int):
    """Returns the reason a correlation is undefined, or None."""
    if gt.shape != pred.shape or gt.ndim != 1:
        raise ValueError(f'{name}: need two 1-D sequences of equal length, '
                         f'got shapes {gt.shape} and {pred.shape}')
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
    """Spearman rank correlation on the raw predictions (``spearmanr(gt,
    pred)``).

    Args:
        gt_scores (Sequence[float]): GT MOS per image.
        pred_scores (Sequence[float]): predicted scores, same order.

    Returns:
        float: SRCC, or NaN (with a warning) when undefined.
    """
    gt, pred = np.array(gt_scores), np.array(pred_scores)
    why = _degenerate('SRCC', gt, pred, 2)
    if why:
        return _nan('SRCC', why)
    return _spearman(gt, pred)


def fit_scores(gt_scores: Sequence[float],
               pred_scores: Sequence[float],
               fit: str = 'logistic4') -> np.ndarray:
    """Maps predictions onto the GT scale with the PLCC's fitted function.

    Args:
        gt_scores (Sequence[float]): GT MOS per image.
        pred_scores (Sequence[float]): predicted scores, same order.
        fit (str): ``'logistic4'`` (the scorer), ``'poly3'`` or ``'none'``
            (identity). Defaults to ``'logistic4'``.

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
            warnings.simplefilter(
                'ignore', np.exceptions.RankWarning if hasattr(
                    np, 'exceptions') else np.RankWarning)
            coeffs = np.polyfit(pred, gt, 3)
        return np.polyval(coeffs, pred)
    if fit != 'logistic4':
        raise ValueError(f"plcc_fit must be one of {PLCC_FITS}, got {fit!r}")
    p0 = [np.max(gt), np.min(gt), np.mean(pred), np.std(pred)]
    with warnings.catch_warnings(), np.errstate(over='ignore'):
        # exp overflow for far-out points and an inestimable covariance are
        # harmless here: only the fitted parameters are used.
        popt = _curve_fit_logistic(pred, gt, p0)
        return logistic4(pred, *popt)


def plcc(gt_scores: Sequence[float],
         pred_scores: Sequence[float],
         fit: str = 'logistic4') -> float:
    """Pearson correlation between GT MOS and the fitted predictions.

    Args:
        gt_scores (Sequence[float]): GT MOS per image.
        pred_scores (Sequence[float]): predicted scores, same order.
        fit (str): ``'logistic4'`` (default, the released scorer), ``'poly3'``
            (the report's wording) or ``'none'``.

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
        return _nan('PLCC',
                    f'the {fit} fit maps every prediction to one value')
    return _pearson(gt, fitted)
