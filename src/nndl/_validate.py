"""The trust boundary: every file nndl reads goes through these checks.

Every reader (IDX and its gzip, the MNIST loader and its decoded cache, model ``.npz``,
network2 JSON, user ``.npz`` data, image folders, ``predict``'s images, TOML configs,
checkpoints and ``history.json``) calls these functions, so that whatever a file holds:

- only nndl's own errors escape (``DataError``, ``ModelFileError``, ``UsageError``: one
  line naming the file and the problem, and what the file really is when it is not what
  was expected: ``describe``);
- memory is bounded *before* allocation: files are read up to a cap, gzip and zip
  members are inflated up to the size they may have, ``.npy`` headers are checked
  (dtype, shape, byte count) before their data are read, image pixels are counted
  before decoding, JSON and TOML nesting and integer lengths are bounded;
- nothing blocks: only regular files are read (a FIFO named ``x.png`` is refused, and
  opened without blocking);
- nothing is accepted silently: arrays are checked for dtype, shape and finiteness.

Chapter 6's layered networks load their files with ``read_npz`` and ``float_array``.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from nndl.errors import DataError, NndlError
from nndl import _words

ErrorType = type[NndlError]

MAX_JSON_BYTES = 256 << 20  # network2 JSON of a [784, 1000, 1000, 10] net is ~40 MB
MAX_TEXT_BYTES = 1 << 20  # TOML configs, history.json headers
MAX_INT_DIGITS = 40  # integers in JSON/TOML: more digits than any count or seed needs
MAX_NPZ_MEMBERS = 10_000
MAX_ARRAY_BYTES = 4 << 30  # one array of a model or data set (MNIST's float64 X: 376 MB)
MAX_IMAGE_PIXELS = 50_000_000  # a 7000x7000 photo; Pillow's own bomb limit is ~89 M
MAX_IMAGE_FILE_BYTES = 256 << 20  # an image file (a 50-megapixel TIFF is 150 MB)
MAX_NPY_HEADER = 10_000


# ---------------------------------------------------------------------------------------
# What a file really is


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x93NUMPY", "a single NumPy .npy array"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"%PDF", "a PDF document"),
    (b"\x80", "a Python pickle"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ", "an xz file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x00\x00\x08", "an IDX file of unsigned bytes"),
)


def describe(head: bytes) -> str:
    """What a file starting with ``head`` (its first bytes) looks like, for error messages."""
    if not head:
        return "an empty file"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None if b"\0" in head else head.decode("latin-1")
        if text is None:
            return "binary data of an unknown kind"
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "a JSON or other text file"
    if stripped[:15].lower().startswith(("<!doctype html", "<html")):
        return "an HTML page (a web page saved instead of the file?)"
    if stripped.startswith("<"):
        return "an XML or HTML text file"
    return "a text file"


def describe_file(path: str | os.PathLike[str]) -> str:
    """``describe`` of the first bytes of ``path``, or why it cannot be read."""
    try:
        with open_regular(path, DataError) as f:
            return describe(f.read(64))
    except NndlError as exc:
        return str(exc).split(": ", 1)[-1]


# ---------------------------------------------------------------------------------------
# Opening and reading files


def open_regular(path: str | os.PathLike[str], error: ErrorType = DataError,
                 what: str = "file") -> IO[bytes]:
    """Open ``path`` for binary reading if it is a regular file; else ``error`` naming it.

    Opened with ``O_NONBLOCK`` so that a FIFO or device never blocks, then checked with
    ``fstat`` (no race between the check and the read).
    """
    nonblock = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not {_words.a(what)}") from None
    except PermissionError:
        raise error(f"{path}: permission denied") from None
    except (OSError, ValueError) as exc:  # ValueError: NUL in the path
        raise error(f"{path}: cannot open it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise error(f"{path}: is {kind}, not a regular {what}")
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], limit: int, error: ErrorType = DataError,
               what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refused (``error``) if longer than ``limit``."""
    with open_regular(path, error, what) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise error(f"{path}: {size:,} bytes, more than the {limit:,} {_words.a(what)} may have")
            data = f.read(min(size, limit) + 1)  # read(n) allocates n bytes at once
        except OSError as exc:
            raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{path}: more than the {limit:,} bytes {_words.a(what)} may have")
    return data


def gunzip(raw: bytes, limit: int, where: str, error: ErrorType = DataError,
           expected: str = "expected") -> bytes:
    """Decompress gzip data (one or more members), refusing more than ``limit`` bytes out.

    The output is inflated in bounded steps, so a "zip bomb" costs at most ``limit`` bytes.
    """
    out = bytearray()
    data = raw
    try:
        while True:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = d.decompress(data, limit + 1 - len(out))
            out += chunk
            while not d.eof and len(out) <= limit:
                if not d.unconsumed_tail:
                    raise error(f"{where}: corrupt or truncated gzip data (the file ends mid-stream)")
                out += d.decompress(d.unconsumed_tail, limit + 1 - len(out))
            if len(out) > limit:
                raise error(f"{where}: decompresses to more than the {limit:,} bytes {expected}")
            data = d.unused_data.lstrip(b"\0")  # gzip allows zero padding between members
            if not data:
                return bytes(out)
            if data[:2] != b"\x1f\x8b":
                raise error(f"{where}: corrupt or truncated gzip data (bytes after its end)")
    except zlib.error as exc:
        raise error(f"{where}: corrupt or truncated gzip data ({exc})") from None


# ---------------------------------------------------------------------------------------
# JSON and TOML


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > 400:
        raise ValueError(f"a number written with {len(text)} characters")
    return float(text)


def loads_json(text: str | bytes, where: str, error: ErrorType = DataError) -> Any:
    """``json.loads`` with bounded nesting (RecursionError) and integer length; ``error`` else."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float)
    except UnicodeDecodeError:
        raise error(f"{where}: not UTF-8 text: {describe(text[:64])}") from None
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc}); it is {describe(text[:64].encode())}") from None
    except (ValueError, OverflowError) as exc:
        raise error(f"{where}: not usable JSON ({exc})") from None


def read_json(path: str | os.PathLike[str], error: ErrorType = DataError,
              limit: int = MAX_JSON_BYTES, what: str = "file") -> Any:
    """``loads_json`` of the regular file ``path`` (at most ``limit`` bytes)."""
    return loads_json(read_bytes(path, limit, error, what), str(path), error)


def read_toml(path: str | os.PathLike[str], error: ErrorType, where: str) -> dict[str, Any]:
    """A TOML file as a dict, bounded in size, nesting and integer length."""
    import tomllib

    raw = read_bytes(path, MAX_TEXT_BYTES, error, "TOML file")
    try:
        return tomllib.loads(raw.decode("utf-8"), parse_float=_parse_float)
    except UnicodeDecodeError:
        raise error(f"{where}: not UTF-8 text; it is {describe(raw[:64])}") from None
    except RecursionError:
        raise error(f"{where}: TOML nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML ({exc})") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
        if "int_max_str_digits" in str(exc) or "integer string conversion" in str(exc):
            raise error(f"{where}: holds an integer of more than 4,300 digits; no setting is "
                        "that large") from None
        raise error(f"{where}: not usable TOML ({exc})") from None


def check_json_value(value: Any, where: str, error: ErrorType = DataError) -> None:
    """Refuse integers beyond int64 anywhere in a parsed JSON/TOML value (iteratively)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
            raise error(f"{where}: the integer {v} is out of range")


# ---------------------------------------------------------------------------------------
# .npz files (NumPy zip archives of .npy members)


def read_npz(path: str | os.PathLike[str], error: ErrorType = DataError, *,
             max_array_bytes: int = MAX_ARRAY_BYTES, max_total_bytes: int | None = None,
             kinds: str = "biufU", what: str = ".npz file",
             check: Callable[[str, tuple[int, ...], Any], None] | None = None,
             only: frozenset[str] | set[str] | None = None) -> dict[str, Any]:
    """The arrays of an ``.npz``, every member checked before its data are read.

    Refused with ``error`` naming the file: anything that is not a zip of ``.npy`` members;
    encrypted members or compression methods other than stored/deflate; duplicate names;
    object (pickled) arrays or dtype kinds outside ``kinds``; a member whose header
    declares more than ``max_array_bytes`` or whose size disagrees with its header.
    ``check(name, shape, dtype)`` may refuse a member (raise ``error``) before its data are
    read, e.g. a weight matrix whose shape the metadata does not announce. ``only``: read
    just these members (all members are still checked as zip entries).
    """
    where = str(path)
    total_cap = max_total_bytes if max_total_bytes is not None else 4 * max_array_bytes
    with open_regular(path, error, what) as f:
        head = f.read(4)
        f.seek(0)
        if head[:2] != b"PK":
            raise error(f"{where}: not {_words.a(what)} (a zip archive of arrays); it is {describe(f.read(64))}")
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
                NotImplementedError, RuntimeError) as exc:
            raise error(f"{where}: not a readable {what}: a damaged zip archive ({exc})") from None
        arrays: dict[str, Any] = {}
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise error(f"{where}: {len(infos):,} members; more than {MAX_NPZ_MEMBERS:,}")
            total = 0
            for info in infos:
                name = info.filename
                if not name.endswith(".npy"):
                    raise error(f"{where}: member {name!r} is not a NumPy .npy array")
                if info.flag_bits & 0x1:
                    raise error(f"{where}: member {name!r} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise error(f"{where}: member {name!r} uses compression method "
                                f"{info.compress_type}; only stored and deflate are read")
                archive_size = os.fstat(f.fileno()).st_size
                if (info.compress_size > archive_size
                        or info.file_size > 1032 * info.compress_size + 1024):
                    # deflate cannot expand more than 1032:1; a directory claiming more lies
                    raise error(f"{where}: member {name!r} declares {info.file_size:,} bytes "
                                f"from {info.compress_size:,}; a damaged zip directory")
                if info.file_size > max_array_bytes + MAX_NPY_HEADER + 128:
                    raise error(f"{where}: member {name!r} holds {info.file_size:,} bytes; "
                                f"more than the {max_array_bytes:,} allowed")
                total += info.file_size
            if total > total_cap:
                raise error(f"{where}: its members hold {total:,} bytes; more than {total_cap:,}")
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise error(f"{where}: holds two members of the same name")
            for info in infos:
                key = info.filename[:-4]
                skip = only is not None and key not in only
                array = _read_npy_member(zf, info, where, error, max_array_bytes,
                                         "biufcSUV" if skip else kinds, check, header_only=skip)
                if not skip:
                    arrays[key] = array
    return arrays


def _read_npy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, error: ErrorType,
                     max_bytes: int, kinds: str, check, header_only: bool = False) -> Any:
    name = info.filename[:-4]
    try:
        with zf.open(info) as m:
            return read_npy_stream(m, info.file_size, f"{where}: array {name!r}", error, max_bytes,
                                   kinds, None if check is None else lambda s, d: check(name, s, d),
                                   header_only)
    except NndlError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
            NotImplementedError, RuntimeError, KeyError, TypeError, MemoryError,
            OverflowError) as exc:  # bad CRC, damaged deflate data, a lying zip directory
        raise error(f"{where}: array {name!r} is damaged ({type(exc).__name__}: {exc})") from None


def read_npy_stream(m: IO[bytes], size: int, where: str, error: ErrorType, max_bytes: int,
                    kinds: str = "biufU", check=None, header_only: bool = False) -> Any:
    """An array from the ``.npy`` stream ``m`` of ``size`` bytes, header checked first.

    ``where`` names the array in messages; ``check(shape, dtype)`` may refuse it before its
    data are read.
    """
    import numpy as np
    from numpy.lib import format as npy

    # The header's length is checked before NumPy reads it: NumPy reads the declared
    # length first (a damaged 4-byte length asks for up to 4 GB) and checks it after.
    magic = m.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise error(f"{where} is not a .npy array (no .npy magic); it is {describe(magic)}")
    version = (magic[6], magic[7])
    width = {(1, 0): 2, (2, 0): 4, (3, 0): 4}.get(version)
    if width is None:
        raise error(f"{where} has .npy format version {version}")
    length_bytes = m.read(width)
    length = int.from_bytes(length_bytes, "little") if len(length_bytes) == width else -1
    if not 0 <= length <= MAX_NPY_HEADER or length > size - 8 - width:
        raise error(f"{where} has a damaged .npy header (declared length {length:,})")
    header = m.read(length)
    try:
        f = io.BytesIO(magic + length_bytes + header)
        npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
        else:
            shape, fortran, dtype = npy.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
    except NndlError:
        raise
    except Exception as exc:  # noqa: BLE001 - NumPy's header parser raises ValueError,
        # SyntaxError, tokenize.TokenError, EOFError... for malformed .npy headers
        raise error(f"{where} is not a valid .npy array ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise error(f"{where} holds pickled Python objects; nndl never loads pickles")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise error(f"{where} has dtype {dtype}, which nndl does not read here")
    if len(shape) > 32 or any(not isinstance(n, int) or n < 0 for n in shape):
        raise error(f"{where} declares the impossible shape {shape}")
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if nbytes > max_bytes:
        raise error(f"{where} declares {nbytes:,} bytes of data (shape {shape}); more than the "
                    f"{max_bytes:,} allowed")
    if size - m.tell() != nbytes:
        raise error(f"{where} should hold {nbytes:,} bytes (shape {shape}, {dtype}) but holds "
                    f"{size - m.tell():,}")
    if check is not None:
        check(tuple(shape), dtype)
    if header_only:
        return None
    chunks, left = [], nbytes
    while left:  # in pieces: read(n) would allocate n bytes before finding the data absent
        chunk = m.read(min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    if left:
        raise error(f"{where} is truncated")
    data = b"".join(chunks)
    order = "F" if fortran else "C"
    array = np.frombuffer(data, dtype).reshape(shape, order=order)
    return array.astype(dtype.newbyteorder("="), order="C")  # writable, native byte order


def read_npy(path: str | os.PathLike[str], error: ErrorType, max_bytes: int,
             kinds: str = "biufU") -> Any:
    """One ``.npy`` file, checked like an ``.npz`` member (never unpickled)."""
    with open_regular(path, error, ".npy file") as f:
        try:
            size = os.fstat(f.fileno()).st_size
            return read_npy_stream(f, size, str(path), error, max_bytes, kinds)
        except OSError as exc:
            raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None


# ---------------------------------------------------------------------------------------
# Arrays


def float_array(value: Any, where: str, error: ErrorType, *, shape: tuple[int, ...] | None = None,
                shapes: tuple[tuple[int, ...], ...] = ()) -> Any:
    """``value`` as a finite float64 array; refused if not real floats of the right shape.

    Integers are accepted (exactly representable up to 2**53), booleans, complex numbers,
    strings and objects are not.
    """
    import numpy as np

    if isinstance(value, np.ndarray):
        array = value
    else:
        array = _nested_floats(value, where, error)
    if array.dtype.kind not in "fiu":
        raise error(f"{where} holds {array.dtype} values; expected real numbers")
    allowed = ((shape,) if shape is not None else ()) + tuple(shapes)
    if allowed and array.shape not in allowed:
        wanted = " or ".join(str(s) for s in allowed)
        raise error(f"{where} has shape {array.shape}; expected {wanted}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise error(f"{where} holds NaN or infinite values")
    return array


def _nested_floats(value: Any, where: str, error: ErrorType):
    """Nested lists of JSON numbers (no bools, no strings) as a rectangular float64 array."""
    import numpy as np

    def bad(v) -> bool:
        return isinstance(v, bool) or not isinstance(v, (int, float))

    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        if any(bad(v) for row in value for v in row):
            raise error(f"{where} holds something other than rectangular lists of numbers (strings, booleans?)")
        if len({len(r) for r in value}) != 1:
            raise error(f"{where} holds something other than rectangular lists of numbers (rows of different lengths)")
        return np.array(value, dtype=np.float64)
    if isinstance(value, list):
        if any(bad(v) for v in value):
            raise error(f"{where} holds something other than rectangular lists of numbers (strings, booleans?)")
        return np.array(value, dtype=np.float64)
    raise error(f"{where} is {_words.a(type(value).__name__)}; expected a list of numbers")


def plain_int(value: Any, low: int, high: int) -> bool:
    """``value`` is an int (not a bool) with ``low <= value <= high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def plain_number(value: Any) -> bool:
    """``value`` is a finite int or float, not a bool."""
    import math

    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def exists_regular(path: Path) -> bool:
    """``path`` is a regular file (not following a FIFO or device; False on any error)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------
# Images (Pillow)


def image_grey(path: str | os.PathLike[str], error: ErrorType = DataError, *, paper: float,
               max_pixels: int = MAX_IMAGE_PIXELS) -> Any:
    """The image at ``path`` as grey levels, float64 (h, w) in [0, 1] (0 black, 1 white).

    - Only regular files are opened; the pixel count is checked against ``max_pixels``
      from the header, before anything is decoded.
    - 8-bit images (any colour mode) become grey with Pillow's ITU-R 601-2 luma.
      16-bit images are scaled by 1/65535 (not saturated at 255); float images must hold
      finite values in [0, 1] and are refused otherwise.
    - Transparency, one rule for every reader: a transparent pixel is paper. Pixels are
      composited over ``paper`` (0.0 for data folders, whose background is black as in
      MNIST; 1.0 for ``predict``'s photos and drawings, whose paper is white).

    Raises ``error`` naming the file for anything Pillow cannot decode (its decoders raise
    many exception types for damaged files; all become one line).
    """
    import logging
    import warnings

    from PIL import Image

    pil_log = logging.getLogger("PIL")
    if not pil_log.handlers:  # Pillow logs damaged files' details; we raise one line instead
        pil_log.addHandler(logging.NullHandler())
    where = str(path)
    # Pillow is given the bytes, not the file: its decoders call read(n) with lengths taken
    # from the file, and a real file's read(n) allocates n bytes at once (2 GB for a
    # damaged PNG chunk length); a BytesIO returns only what there is.
    data = read_bytes(path, MAX_IMAGE_FILE_BYTES, error, "image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings on damaged files: we raise instead
        try:
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise error(f"{where}: {w}x{h} pixels; nndl reads images of at most "
                                f"{max_pixels:,} pixels")
                if w == 0 or h == 0:
                    raise error(f"{where}: an image of {w}x{h} pixels")
                img.load()
                return _grey_levels(img, paper, where, error)
        except NndlError:
            raise
        except Image.DecompressionBombError as exc:
            raise error(f"{where}: too many pixels ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - Pillow: OSError, SyntaxError, struct.error, ...
            what = describe(data[:64])
            known = Image.UnidentifiedImageError
            if not isinstance(exc, known):
                detail = f", damaged ({type(exc).__name__}: {exc})"
            elif what.endswith(" image"):  # its signature says image, yet Pillow cannot open it
                detail = ", but a damaged one (its header does not check out)"
            else:
                detail = ""
            raise error(f"{where}: cannot read this image: it is {what}{detail}") from None


def _grey_levels(img, paper: float, where: str, error: ErrorType):
    import numpy as np
    from PIL import Image

    mode = img.mode
    if mode.startswith("I;16"):
        return np.asarray(img).astype(np.float64) / 65535.0
    if mode == "I":
        a = np.asarray(img)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise error(f"{where}: 32-bit integer pixels outside 0..65535; save it as an 8- or "
                        "16-bit image")
        return a.astype(np.float64) / 65535.0
    if mode == "F":
        a = np.asarray(img).astype(np.float64)
        if a.size and not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
            raise error(f"{where}: floating-point pixels must be finite and in [0, 1]; found "
                        f"{np.nanmin(a):g}..{np.nanmax(a):g}")
        return a
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not has_alpha:
        return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    rgba = img.convert("RGBA")
    grey = np.asarray(Image.merge("RGB", rgba.split()[:3]).convert("L"), dtype=np.float64) / 255.0
    alpha = np.asarray(rgba.split()[3], dtype=np.float64) / 255.0
    return grey * alpha + paper * (1.0 - alpha)  # transparent = paper


def check_inside(path: Path, root: Path, error: ErrorType = DataError) -> None:
    """Refuse a symbolic link (or a path through one) that leads outside ``root``."""
    try:
        real, top = path.resolve(strict=True), root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # a dangling link, a loop
        raise error(f"{path}: cannot follow it ({getattr(exc, 'strerror', None) or exc})") from None
    if real != top and not real.is_relative_to(top):
        raise error(f"{path}: a symbolic link to {real}, outside {root}; nndl does not follow "
                    "links out of a data folder (copy the file in instead)")
