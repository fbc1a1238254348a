# Copyright (c) struct_det contributors. All rights reserved.
"""Convert a Co-DINO checkpoint of mmdetection's projects/CO-DETR to CoDETR.

Example::

    python tools/model_converters/codetr_to_struct_det.py \
        co_dino_5scale_r50_lsj_8xb2_1x_coco-69a72d67.pth \
        checkpoints/co-dino_r50_lsj_coco_struct-det.pth --drop-class-specific

Every tensor is renamed (none reshaped); source keys no rule knows are
listed and, with ``--strict``, make the conversion fail.
"""
import argparse
import os.path as osp
import sys

import torch


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a projects/CO-DETR (Co-DINO) checkpoint to the '
        'module names of struct_det CoDETR.')
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument(
        '--drop-class-specific',
        action='store_true',
        help='leave out the tensors whose shape depends on the source '
        'classes (classifiers, denoising label embedding, class-specific '
        'box regression), for fine-tuning on another label set')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='fail (exit 1, nothing written) when a source tensor has no '
        'target name')
    parser.add_argument(
        '--trust-source',
        action='store_true',
        help='load with torch.load(weights_only=False); only for files from '
        'a source you trust (pickles can run code)')
    return parser.parse_args(argv)


def load_checkpoint_file(path: str, trust_source: bool) -> dict:
    """Load a checkpoint on the CPU, by default with the restricted
    unpickler (mmengine's checkpoint types are allow-listed by struct_det)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist')
    if trust_source:
        return torch.load(path, map_location='cpu', weights_only=False)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # the unpickler raises several error types
        raise RuntimeError(
            f'{path!r} holds objects the restricted unpickler refuses '
            f'({err}); rerun with --trust-source if you trust where the file '
            'comes from') from err


def main(argv=None) -> int:
    args = parse_args(argv)
    # Importing struct_det allow-lists mmengine's checkpoint metadata types.
    import struct_det  # noqa: F401
    from struct_det.models.detectors.codetr import (convert_codetr_state_dict,
                                                    extract_state_dict)
    from struct_det.utils import save_torch_atomic

    checkpoint = load_checkpoint_file(args.src, args.trust_source)
    try:
        state_dict = extract_state_dict(checkpoint)
    except ValueError as err:
        print(f'error: {args.src}: {err}', file=sys.stderr)
        return 1
    result = convert_codetr_state_dict(
        state_dict, drop_class_specific=args.drop_class_specific)

    print(f'converted {len(result.mapping)} of {len(state_dict)} tensors '
          f'from {args.src}')
    if result.dropped:
        print(f'dropped {len(result.dropped)} class-specific tensors:')
        for key in result.dropped:
            print(f'  {key}')
    if result.unconverted:
        print(f'{len(result.unconverted)} source tensors have no target '
              'name (left out):')
        for key in result.unconverted:
            print(f'  {key}')
        if args.strict:
            print(
                'error: --strict and unconverted tensors; nothing written',
                file=sys.stderr)
            return 1
    # The source meta (COCO dataset_meta, training state) describes another
    # model; only the provenance is kept.
    meta = dict(
        converted_from=osp.basename(args.src),
        drop_class_specific=args.drop_class_specific)
    save_torch_atomic(dict(state_dict=result.state_dict, meta=meta), args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
