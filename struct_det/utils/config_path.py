"""Finds struct_det's own config files from any working directory."""
import os.path as osp

PACKAGE_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def resolve_config_path(path: str) -> str:
    """Resolves a config path as given, else inside the installed package.

    A joint config names its members' configs as ``configs/...`` paths. Run
    from the checkout they resolve as they are; run through ``mim`` from
    elsewhere, or after a regular install, they are found under
    ``struct_det/.mim/`` (or the checkout beside the package in a development
    install).

    Args:
        path (str): the config path as written.

    Returns:
        str: an existing file path.

    Raises:
        FileNotFoundError: when neither location has it.
    """
    candidates = [path]
    if not osp.isabs(path):
        candidates += [
            osp.join(PACKAGE_ROOT, '.mim', path),
            osp.join(osp.dirname(PACKAGE_ROOT), path)
        ]
    for candidate in candidates:
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'config file {path!r} not found in the working '
                            'directory nor in the installed struct_det '
                            f'({PACKAGE_ROOT}/.mim)')
