"""Predicted structure score against the MOS, as a scatter plot."""
from typing import Optional, Sequence

import numpy as np


def plot_score_scatter(pred: Sequence[float],
                       mos: Sequence[float],
                       out_file: str,
                       title: Optional[str] = None) -> None:
    """Writes a predicted-vs-MOS scatter plot (PNG) with the identity line.

    Args:
        pred (Sequence[float]): predicted scores.
        mos (Sequence[float]): ground-truth MOS of the same images.
        out_file (str): output image path.
        title (str, optional): plot title (e.g. the SRCC/PLCC of the run).
            Defaults to None.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    pred, mos = np.asarray(pred, np.float64), np.asarray(mos, np.float64)
    if pred.shape != mos.shape:
        raise ValueError(f'{len(pred)} predictions for {len(mos)} MOS values')
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.scatter(mos, pred, s=14, alpha=0.7, color='tab:red', edgecolors='none')
    lo = float(min(mos.min(initial=1.0), pred.min(initial=1.0)))
    hi = float(max(mos.max(initial=5.0), pred.max(initial=5.0)))
    ax.plot([lo, hi], [lo, hi], color='grey', lw=1, ls='--')
    ax.set_xlabel('MOS (ground truth)')
    ax.set_ylabel('predicted structure score')
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)
