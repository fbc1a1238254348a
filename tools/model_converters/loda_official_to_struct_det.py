"""Convert a checkpoint of the released LoDa code to struct_det's ``LoDa``.

The released code saves only its learner and the ResNet's BatchNorm buffers.
Pass the pretrained backbone files it was trained from to get a complete
checkpoint that ``tools/test.py`` can use directly; without them the output
only suits ``load_from`` in a config whose backbones load their own
``pretrained`` files.

Example::

    python tools/model_converters/loda_official_to_struct_det.py \
        loda_koniq10k.pt checkpoints/loda_vit-b16-r50_koniq10k_struct-det.pth \
        --vit-weights \
        checkpoints/vit_base_patch16_224.augreg2_in21k_ft_in1k.safetensors \
        --cnn-weights checkpoints/resnet50.a1_in1k.safetensors
"""
import argparse
import os.path as osp
import sys

import torch


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a released-LoDa checkpoint (learner + bn_buffer) '
        'to the '
        'parameter names of struct_det LoDa.')
    parser.add_argument('src', help='released LoDa checkpoint (.pt/.pth)')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument(
        '--vit-weights', help='pretrained timm ViT weights to merge in')
    parser.add_argument(
        '--cnn-weights', help='pretrained timm CNN weights to merge in')
    parser.add_argument(
        '--trust-source',
        action='store_true',
        help='load with torch.load(weights_only=False); only for files from a '
        'source you '
        'trust (pickles can run code)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import struct_det  # noqa: F401  allow-lists mmengine checkpoint types
    from struct_det.models.regressors import (convert_official_loda_state,
                                              read_state_dict_file)
    from struct_det.utils import save_torch_atomic

    if not osp.isfile(args.src):
        print(f'error: checkpoint {args.src!r} does not '
              'exist',
              file=sys.stderr)
        return 1
    try:
        checkpoint = torch.load(
            args.src, map_location='cpu', weights_only=not args.trust_source)
    # the restricted unpickler raises several error types
    except Exception as err:
        print(
            f'error: {args.src}: the restricted unpickler refuses it '
            f'({err}); rerun with '
            '--trust-source if you trust where the file comes '
            'from',
            file=sys.stderr)
        return 1
    try:
        vit_state = read_state_dict_file(
            args.vit_weights) if args.vit_weights else None
        cnn_state = read_state_dict_file(
            args.cnn_weights) if args.cnn_weights else None
        state_dict = convert_official_loda_state(
            checkpoint, vit_state, cnn_state, source=args.src)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    meta = dict(
        converted_from=osp.basename(args.src),
        vit_weights=osp.basename(args.vit_weights)
        if args.vit_weights else None,
        cnn_weights=osp.basename(args.cnn_weights)
        if args.cnn_weights else None)
    save_torch_atomic(dict(state_dict=state_dict, meta=meta), args.dst)
    complete = args.vit_weights and args.cnn_weights
    print(f'wrote {len(state_dict)} tensors to {args.dst}' +
          ('' if complete else
           ' (adapter + BN buffers only: the backbones must come from '
           'the config\'s pretrained files, so use it as load_from for '
           'training)'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
