"""Writes the trivial baseline's submission for the keys of a gt.pkl.

Every image is predicted as one whole-image distorted region with a random
structure score (seeded): the floor any real model must clear.

Example:
    python tools/misc/trivial_baseline.py results/val_gt.pkl \
        results/baseline.zip
"""
import argparse
import sys

import numpy as np

from struct_det.evaluation import (format_readme, restricted_load,
                                   write_submission)


def trivial_predictions(keys, seed: int = 0) -> dict:
    """Whole-image masks and uniform random scores in [1, 5] for ``keys``."""
    rng = np.random.default_rng(seed)
    return {
        k:
        dict(
            score=float(rng.uniform(1, 5)),
            pred_area=np.ones((64, 64), np.uint8))
        for k in keys
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('gt', help='gt.pkl whose keys are predicted')
    parser.add_argument('out', help='submission zip to write')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    keys = list(restricted_load(args.gt))
    write_submission(args.out, trivial_predictions(keys, args.seed),
                     format_readme(0.0, use_cpu=True, extra_data=False), keys)
    print(f'wrote {args.out} ({len(keys)} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
