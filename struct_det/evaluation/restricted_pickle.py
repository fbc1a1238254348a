"""Restricted unpickling of submissions and gt.pkl files.

Pickles from outside are opened with an unpickler that builds numpy arrays,
dtypes, scalars and plain containers
(:func:`struct_det.utils.safe_globals.submission_safe_globals`) and refuses
every other global, so a file cannot run code.

A pickle file is read through :class:`MappedUnpickler`: the file is mapped into
memory and each large array is a read-only view of its bytes in the mapping,
not a copy. A 1 GB ``output.pkl`` then loads in tens of milliseconds instead of
half a second, and its pages are shared with the page cache instead of being
copied into the process. Streams (a zip member) go through
:class:`RestrictedUnpickler`, which copies as ``pickle.load`` does.
"""
import io
import mmap
import pickle
import struct
import zipfile
import zlib
from typing import IO, Any, Callable, Dict

import numpy as np

from ..utils.safe_globals import submission_safe_globals

# Payloads at least this large are mapped; pickle's frames are 64 KiB, and
# protocol 4 writes larger payloads outside them.
_MAPPED_MIN_BYTES = 1 << 16

# What a corrupt pickle raises in the C or the pure-Python unpickler.
_CORRUPT_ERRORS = (pickle.UnpicklingError, EOFError, AttributeError,
                   ImportError, IndexError, KeyError, TypeError, ValueError,
                   struct.error, zipfile.BadZipFile, zlib.error)


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global the restricted unpicklers do not allow."""


_ALLOWED = submission_safe_globals()


def _find_allowed(module: str, name: str) -> Any:
    """The allowed object a pickle names.

    Args:
        module (str): The global's module.
        name (str): The global's name.

    Returns:
        Any: The object.

    Raises:
        RefusedGlobal: When the global is not allowed.
    """
    found = _ALLOWED.get((module, name))
    if found is None:
        raise RefusedGlobal(
            f'refusing to load {module}.{name}: submission pickles may '
            'hold only numpy arrays, numpy scalars and dict/list/tuple '
            '(convert tensors with .numpy() and scores with float())')
    return found


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickle numpy arrays, dtypes, scalars and builtin containers only.

    Submissions come from other people; a plain ``pickle.load`` would run
    any callable the file names.
    """
    _ALLOWED = _ALLOWED

    def find_class(self, module: str, name: str) -> Any:
        return _find_allowed(module, name)


class _MappedReader:
    """A read-only file object over a mapped file that can lend views of it.

    Args:
        mapping (mmap.mmap): The mapped file.
    """

    def __init__(self, mapping: mmap.mmap) -> None:
        self._mapping = mapping
        self._buffer = memoryview(mapping)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        start, total = self._pos, len(self._buffer)
        end = total if size < 0 else min(start + size, total)
        self._pos = end
        return self._buffer[start:end].tobytes()

    def readinto(self, out: Any) -> int:
        data = self.read(len(out))
        out[:len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        # Protocol-0 opcodes read lines (a protocol-0 array's data is one).
        start = self._pos
        end = self._mapping.find(b'\n', start)
        self._pos = len(self._buffer) if end < 0 else end + 1
        return self._buffer[start:self._pos].tobytes()

    def view(self, size: int) -> memoryview:
        """The next ``size`` bytes as a view, without copying.

        Args:
            size (int): The number of bytes.

        Returns:
            memoryview: A read-only view into the buffer.

        Raises:
            pickle.UnpicklingError: When fewer bytes are left.
        """
        start = self._pos
        if start + size > len(self._buffer):
            raise pickle.UnpicklingError('pickle data was truncated')
        self._pos = start + size
        return self._buffer[start:self._pos]


class MappedUnpickler(pickle._Unpickler):
    """The restricted unpickler over a mapped file, with arrays as views.

    It is CPython's pure-Python unpickler with the same allow-list as
    :class:`RestrictedUnpickler`, and three opcodes handled differently:

    - large ``BINBYTES``/``BINBYTES8``/``BYTEARRAY8`` payloads are read-only
      views of the mapping instead of copies;
    - ``BUILD`` of an ``ndarray`` from such a view (pickle protocols 3-4:
      ``_reconstruct`` then ``__setstate__``) makes the array with
      ``np.frombuffer`` on the view; the memo entry that held the empty
      array being built (``MEMOIZE``/``BINPUT``/``LONG_BINPUT``) is pointed
      at the result, so a second reference to the same array in the pickle
      gets it too;
    - protocol 5 arrays (``_frombuffer`` of an in-band buffer) become views
      through ``_frombuffer`` itself.

    Arrays made this way are read-only, like every array a view of
    immutable bytes is; copy one to modify it. The mapping stays open as
    long as any of them lives.

    Args:
        reader (_MappedReader): The mapped file.
    """
    dispatch: Dict[int, Callable] = dict(pickle._Unpickler.dispatch)

    def __init__(self, reader: _MappedReader) -> None:
        super().__init__(reader)
        self._reader = reader
        self._memo_key_of: Dict[int, int] = {}

    def find_class(self, module: str, name: str) -> Any:
        return _find_allowed(module, name)

    def _payload(self, size: int) -> Any:
        frame = self._unframer.current_frame
        if size >= _MAPPED_MIN_BYTES and (frame is None or frame.tell() == len(
                frame.getbuffer())):
            # Outside a frame: the payload is the file's next bytes.
            self._unframer.current_frame = None
            return self._reader.view(size)
        data = self.read(size)
        if len(data) != size:
            raise pickle.UnpicklingError('pickle data was truncated')
        return data

    def _load_bytes(self, length_format: str) -> None:
        (size, ) = struct.unpack(length_format,
                                 self.read(struct.calcsize(length_format)))
        self.append(self._payload(size))

    def load_binbytes(self) -> None:
        self._load_bytes('<I')

    def load_binbytes8(self) -> None:
        self._load_bytes('<Q')

    def load_bytearray8(self) -> None:
        (size, ) = struct.unpack('<Q', self.read(8))
        payload = self._payload(size)
        self.append(
            payload if isinstance(payload, memoryview) else bytearray(payload))

    def _memoize_at(self, key: int) -> None:
        obj = self.stack[-1]
        if type(obj) is np.ndarray:
            self._memo_key_of[id(obj)] = key
        self.memo[key] = obj

    def load_memoize(self) -> None:
        self._memoize_at(len(self.memo))

    def load_binput(self) -> None:
        self._memoize_at(self.read(1)[0])

    def load_long_binput(self) -> None:
        (key, ) = struct.unpack('<I', self.read(4))
        self._memoize_at(key)

    def load_build(self) -> None:
        state, inst = self.stack[-1], self.stack[-2]
        if (type(inst) is np.ndarray and type(state) is tuple
                and len(state) == 5 and type(state[4]) is memoryview):
            _, shape, dtype, fortran, data = state
            array = np.frombuffer(
                data, dtype=dtype).reshape(
                    shape, order='F' if fortran else 'C')
            self.stack.pop()
            self.stack[-1] = array
            key = self._memo_key_of.pop(id(inst), None)
            if key is not None and self.memo.get(key) is inst:
                self.memo[key] = array
            return
        super().load_build()

    dispatch[pickle.BINBYTES[0]] = load_binbytes
    dispatch[pickle.BINBYTES8[0]] = load_binbytes8
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8
    dispatch[pickle.MEMOIZE[0]] = load_memoize
    dispatch[pickle.BINPUT[0]] = load_binput
    dispatch[pickle.LONG_BINPUT[0]] = load_long_binput
    dispatch[pickle.BUILD[0]] = load_build


def _load_with(load: Callable[[], Any], source: str) -> Any:
    """Run an unpickler's ``load`` and turn its failures into clear errors.

    Args:
        load (Callable[[], Any]): The bound ``load`` method.
        source (str): A name for error messages.

    Returns:
        Any: The unpickled object.

    Raises:
        ValueError: Naming the source when the pickle is corrupt or refers
            to a type that is not allowed.
    """
    try:
        return load()
    except RefusedGlobal as err:
        raise ValueError(f'{source}: {err}') from err
    except _CORRUPT_ERRORS as err:
        raise ValueError(f'{source}: not a readable pickle '
                         f'({type(err).__name__}: {err})') from err


def restricted_loads(data: bytes, source: str = '<bytes>') -> Any:
    """Load a pickle with :class:`RestrictedUnpickler`.

    Args:
        data (bytes): The pickle's bytes.
        source (str): A name for error messages. Defaults to ``'<bytes>'``.

    Returns:
        Any: The unpickled object.

    Raises:
        ValueError: Naming the source when the pickle is corrupt or refers
            to a type that is not allowed.
    """
    return restricted_load_stream(io.BytesIO(data), source)


def restricted_load_stream(stream: IO[bytes], source: str = '<stream>') -> Any:
    """Load a pickle from a binary file object with the restricted unpickler.

    The pickle is read as it is parsed (a zip member decompresses piece by
    piece), so memory holds the loaded objects, not also a copy of the file.

    Args:
        stream (IO[bytes]): A readable binary file object.
        source (str): A name for error messages. Defaults to ``'<stream>'``.

    Returns:
        Any: The unpickled object.

    Raises:
        ValueError: As :func:`restricted_loads`.
    """
    return _load_with(RestrictedUnpickler(stream).load, source)


def restricted_load(path: str) -> Any:
    """Load a pickle file with the restricted unpickler, arrays mapped.

    The file is mapped read-only (:class:`MappedUnpickler`); its large
    arrays are read-only views of the mapping. A file that cannot be mapped
    (empty, a pipe) is read as a stream.

    Args:
        path (str): The pickle file.

    Returns:
        Any: The unpickled object; its arrays may be read-only.

    Raises:
        ValueError: As :func:`restricted_loads`.
    """
    with open(path, 'rb') as f:
        try:
            mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return restricted_load_stream(f, path)
    unpickler = MappedUnpickler(_MappedReader(mapping))
    return _load_with(unpickler.load, path)
