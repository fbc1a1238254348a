"""Convert an EvalMuse-Structure info file to a COCO instance file.

Examples:
    Labelled training data, split into train/val (writes
    ``evalmuse_train.json`` and ``evalmuse_val.json``)::

        python tools/dataset_converters/evalmuse_structure.py \
            --info data/evalmuse_structure/train/train_info.json \
            --img-dir data/evalmuse_structure/train/images \
            --out data/evalmuse_structure/annotations/evalmuse.json \
            --val-ratio 0.1 --seed 0

    Unlabelled test data (image-only COCO for inference)::

        python tools/dataset_converters/evalmuse_structure.py \
            --info data/evalmuse_structure/test/test_info.json \
            --img-dir data/evalmuse_structure/test/images \
            --out data/evalmuse_structure/annotations/evalmuse_test.json
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)  # run from a checkout without installing

from struct_det.datasets.converter import (  # noqa: E402 isort:skip
    EvalMuseFormatError, convert_evalmuse_structure, dump_coco, dump_cocos,
    split_output_paths)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert EvalMuse-Structure annotations to COCO '
        '(instances = 8-connected components of the annotators\' '
        'consensus mask).')
    parser.add_argument('--info', required=True, help='the *_info.json file')
    parser.add_argument(
        '--img-dir', required=True, help='directory holding <key>.jpg')
    parser.add_argument(
        '--out',
        required=True,
        help='output COCO json; with --val-ratio, '
        '<stem>_train.json and <stem>_val.json are written '
        'next to it instead')
    parser.add_argument(
        '--min-annotators',
        type=int,
        default=2,
        help='a pixel is a distortion if at least this many '
        'annotators marked it (default: 2)')
    parser.add_argument(
        '--val-ratio',
        type=float,
        default=None,
        help='fraction of images for a validation split')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the train/val split (default: 0)')
    parser.add_argument(
        '--skip-invalid',
        action='store_true',
        help='skip invalid records (summarised) instead of '
        'failing')
    parser.add_argument(
        '--no-progress',
        action='store_true',
        help='do not show a progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result = convert_evalmuse_structure(
            args.info,
            args.img_dir,
            min_annotators=args.min_annotators,
            val_ratio=args.val_ratio,
            seed=args.seed,
            skip_invalid=args.skip_invalid,
            progress=not args.no_progress)
        if args.val_ratio is None:
            outputs = {args.out: result}
            dump_coco(result, args.out)
        else:
            outputs = dict(zip(split_output_paths(args.out), result))
            dump_cocos(outputs)
    except (EvalMuseFormatError, ValueError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for path, coco in outputs.items():
        print(f'wrote {path}: {len(coco["images"])} images, '
              f'{len(coco["annotations"])} instances')
    skipped = next(iter(outputs.values()))['info']['skipped']
    for problem, keys in sorted(skipped.items()):
        print(
            f'skipped {len(keys)} record(s) for {problem}: ' +
            ', '.join(keys[:10]) + (' ...' if len(keys) > 10 else ''),
            file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
