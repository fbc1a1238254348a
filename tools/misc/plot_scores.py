"""Scatter plot of predicted structure scores against the MOS from a
`tools/test.py --out` pickle.

Example:
    python tools/misc/plot_scores.py results/val_predictions.pkl \
        results/score_scatter.png
"""
import argparse
import sys

import numpy as np
import torch
from mmengine.fileio import load

from struct_det.evaluation import plcc, srcc
from struct_det.visualization import plot_score_scatter


def scores_and_mos(results) -> tuple:
    """Predicted scores and MOS of the dumped samples that have both."""
    pred, mos = [], []
    for i, sample in enumerate(results):
        if sample.get('mos') is None or sample.get('pred_score') is None:
            continue
        pred.append(
            float(torch.as_tensor(sample['pred_score']).reshape(-1)[0]))
        mos.append(float(sample['mos']))
    if len(pred) < 2:
        raise ValueError('the predictions hold fewer than 2 samples with both '
                         'pred_score and mos: dump a labelled split with a '
                         'score regressor or joint model')
    return np.array(pred), np.array(mos)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'predictions', help='pickle written by tools/test.py --out')
    parser.add_argument('out', help='output PNG')
    args = parser.parse_args(argv)
    pred, mos = scores_and_mos(load(args.predictions))
    title = (f'n={len(pred)}  SRCC {srcc(mos, pred):.3f}  '
             f'PLCC {plcc(mos, pred):.3f}')
    plot_score_scatter(pred, mos, args.out, title=title)
    print(f'wrote {args.out} ({title})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
