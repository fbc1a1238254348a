"""What ``tools/train.py`` and ``tools/test.py`` share, as mmdet's tools do.

The launcher options every runner tool takes, the config they build from
the command line and the runner they build from it.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """Adds ``--cfg-options``, ``--launcher`` and ``--local-rank``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs in xxx=yyy format')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launcher_args(
        parser: argparse.ArgumentParser,
        argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parses ``argv`` and exports ``LOCAL_RANK`` when no launcher set it.

    Args:
        parser (argparse.ArgumentParser): A parser given
            :func:`add_launcher_args`.
        argv (list[str], optional): The arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    """Loads ``args.config`` with the launcher, overrides and work dir.

    Args:
        args (argparse.Namespace): With ``config``, ``launcher``,
            ``cfg_options`` and ``work_dir``.

    Returns:
        Config: The config; ``work_dir`` defaults to
            ``./work_dirs/<config name>`` as in mmdet's tools.
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config):
    """The runner of a config, as mmdet's tools build it: ``Runner`` unless
    the config names a ``runner_type`` (e.g. ``FlexibleRunner``).

    Args:
        cfg (Config): The full config.

    Returns:
        Runner | FlexibleRunner: The runner.
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
