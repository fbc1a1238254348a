"""Generate the bundled EvalMuse-Structure-like sample dataset.

Example::

    python tools/misc/make_sample_data.py --out data/evalmuse_sample --seed 0

writes ``{train,val,test}/{split}_info.json`` and ``{split}/images/*.jpg``
exactly like EvalMuse-Structure (train labelled, val/test prompts only).
Re-running with the same settings is a no-op unless ``--force``.
"""
import argparse
import os.path as osp
import sys
import time

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)  # run from a checkout without installing

from struct_det.testing.sample_data import generate_sample_dataset  # noqa


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a synthetic dataset in the EvalMuse-Structure '
        'layout with planted structural distortions.')
    parser.add_argument('--out', required=True, help='dataset root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--num-test', type=int, default=40)
    parser.add_argument(
        '--max-size',
        type=int,
        default=384,
        help='longest image side in pixels (default: 384)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if --out is up to date')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        result = generate_sample_dataset(
            args.out,
            seed=args.seed,
            num_train=args.num_train,
            num_val=args.num_val,
            num_test=args.num_test,
            max_size=args.max_size,
            force=args.force)
    except (ValueError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    if result['generated']:
        print(f'wrote {result["out_dir"]} ({args.num_train} train, '
              f'{args.num_val} val, {args.num_test} test images) in '
              f'{time.perf_counter() - start:.1f} s')
    else:
        print(f'{result["out_dir"]} is up to date (use --force to regenerate)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
