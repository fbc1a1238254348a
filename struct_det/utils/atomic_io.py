"""Writing files so that a crash never leaves a half-written one behind."""
import os
import os.path as osp
import tempfile
from typing import IO, Any, Callable


def atomic_write(path: str,
                 write: Callable[[IO], Any],
                 mode: str = 'wb') -> None:
    """Writes through a temporary file in the target folder, then renames it
    into place.

    Args:
        path (str): the file to write; its folder is created.
        write (Callable[[IO], Any]): called with the open temporary file.
        mode (str): ``'wb'`` or ``'w'`` (text, UTF-8). Defaults to ``'wb'``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, mode,
                       **({} if 'b' in mode else {
                           'encoding': 'utf-8'
                       })) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def save_torch_atomic(obj: Any, path: str) -> None:
    """``torch.save`` without leaving a partial file behind."""
    import torch
    atomic_write(path, lambda f: torch.save(obj, f))
