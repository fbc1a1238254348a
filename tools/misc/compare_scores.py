"""Prints score JSONs of tools/evaluate_submission.py side by side as a
markdown table.

Example:
    python tools/misc/compare_scores.py joint=results/score_joint.json \
        baseline=results/score_baseline.json
"""
import argparse
import json
import os.path as osp
import sys

from struct_det.evaluation import SCORE_KEYS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('scores', nargs='+', help='[NAME=]score.json')
    args = parser.parse_args(argv)
    rows = []
    for item in args.scores:
        name, _, path = item.rpartition('=')
        with open(path, encoding='utf-8') as f:
            rows.append((name
                         or osp.splitext(osp.basename(path))[0], json.load(f)))
    keys = [k for k in SCORE_KEYS if any(k in r for _, r in rows)]
    print('| system | ' + ' | '.join(keys) + ' |')
    print('|---|' + '---:|' * len(keys))
    for name, result in rows:
        print(f'| {name} | ' + ' | '.join(f'{result.get(k, float("nan")):.4f}'
                                          for k in keys) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
