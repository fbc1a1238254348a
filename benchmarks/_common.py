"""Command-line options the benchmarks share; not a benchmark itself."""
import argparse


def add_device_args(parser: argparse.ArgumentParser) -> None:
    """Adds ``--device`` (default ``cpu``) and ``--threads`` (torch's CPU
    threads, default: torch decides) to a benchmark's parser.

    Args:
        parser (argparse.ArgumentParser): The benchmark's parser.
    """
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch decides)')


def apply_threads(args: argparse.Namespace) -> None:
    """Sets torch's CPU threads to ``args.threads`` where it was given.

    Args:
        args (argparse.Namespace): Parsed options of ``add_device_args``.
    """
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
