"""A seeded fuzzer for every file reader of nndl (issue 13), used by tests/test_fuzz.py.

For each of the nine readers it builds valid seed files, mutates them (random byte
mutations and targeted, format-aware ones: .npy headers, zip flags, JSON/TOML values,
checkpoint fields, image headers), feeds each case to the reader and classifies it:

- ``clean``: the reader raised nndl's own error (an ``NndlError``), one line naming the file;
- ``other``: any other exception (a traceback at the command line), or an error message
  that is not one line or does not name the file;
- ``accepted``: the reader returned, and the result satisfies the reader's contract;
- ``invalid``: the reader returned something that breaks its contract (silent accept);
- ``memory``: the case allocated more than ``MEMORY_BOUND`` (tracemalloc peak: NumPy and
  Python allocations);
- ``hang``: the case took more than ``TIME_BOUND`` CPU seconds or ``WALL_BOUND`` seconds
  (interrupted by SIGPROF or SIGALRM).

Run ``python tests/fuzz_readers.py --cases 10000`` for the thorough pass (it prints the
table for the closing note); the test suite runs fewer cases per reader.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import signal
import struct
import sys
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

MEMORY_BOUND = 64 << 20  # bytes one case may allocate (the seed files are a few KB)
TIME_BOUND = 5.0  # CPU seconds one case may take (a loop)
WALL_BOUND = 60.0  # seconds one case may take in all (a blocked read; generous: shared machines)
OUTCOMES = ("clean", "other", "accepted", "invalid", "memory", "hang")


class _Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise _Hang()


# ---------------------------------------------------------------------------------------
# generic byte mutations

INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x01", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
               b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"9" * 40]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        op = rng.randrange(7)
        if not b:
            b += bytes([rng.randrange(256)])
            continue
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.randrange(256)
        elif op == 2:
            v = rng.choice(INTERESTING)
            b[i:i + len(v)] = v
        elif op == 3:
            del b[i:i + rng.randrange(1, 64)]
        elif op == 4:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif op == 5:
            b = b[:i]
        else:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randrange(1, 32)]
    return bytes(b)


# ---------------------------------------------------------------------------------------
# structured helpers


def npy_bytes(array: np.ndarray, header: dict | None = None) -> bytes:
    """An .npy file; ``header`` replaces fields of its header dict (descr, shape...)."""
    from numpy.lib import format as npy

    buf = io.BytesIO()
    npy.write_array(buf, np.asarray(array), allow_pickle=True)
    raw = buf.getvalue()
    if header is None:
        return raw
    d = npy.header_data_from_array_1_0(np.asarray(array))
    d.update(header)
    text = repr({k: d[k] for k in ("descr", "fortran_order", "shape")}).encode("latin1")
    hlen = len(text) + 1
    pad = (64 - (10 + hlen) % 64) % 64
    text += b" " * pad + b"\n"
    data_start = 10 + struct.unpack("<H", raw[8:10])[0]
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + raw[data_start:]


def zip_bytes(members: dict[str, bytes], rng: random.Random | None = None,
              compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def set_zip_flags(raw: bytes, flag_or: int = 0, method: int | None = None) -> bytes:
    """Patch every local and central header's flag bits and compression method."""
    b = bytearray(raw)
    for sig, flag_off, method_off in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = b.find(sig)
        while i >= 0:
            flags = struct.unpack_from("<H", b, i + flag_off)[0] | flag_or
            struct.pack_into("<H", b, i + flag_off, flags)
            if method is not None:
                struct.pack_into("<H", b, i + method_off, method)
            i = b.find(sig, i + 4)
    return bytes(b)


WEIRD_VALUES = [
    None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**40, 1e308, -1e308, 0.5, "1.5",
    "", "x", [], [1], {}, {"a": 1}, [[1]], "nan", 3, 1000000000, 2**32 + 1,
]


def weird(rng: random.Random):
    return rng.choice(WEIRD_VALUES)


def json_text_mutation(text: str, rng: random.Random) -> str:
    """Raw-text mutations for JSON/TOML: deep nesting, huge integers, NaN, byte noise."""
    op = rng.randrange(6)
    i = rng.randrange(len(text) + 1)
    if op == 0:
        depth = rng.choice((100, 5000, 100_000))
        return text[:i] + "[" * depth + "]" * depth + text[i:]
    if op == 1:
        return text[:i] + "9" * rng.choice((20, 400, 5000)) + text[i:]
    if op == 2:
        return text[:i] + rng.choice(("NaN", "Infinity", "-Infinity", "1e999", "-0")) + text[i:]
    return mutate_bytes(text.encode(), rng).decode("latin1")


def mutate_tree(obj, rng: random.Random):
    """Replace one random node of a JSON-like tree with a weird value (a deep copy)."""
    obj = json.loads(json.dumps(obj))
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list) and len(path) < 6:
            for k, v in enumerate(node[:4]):
                walk(v, path + [k])

    walk(obj, [])
    path = rng.choice(paths[1:] or paths)
    if not path:
        return weird(rng)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.15:
        del parent[path[-1]]
    else:
        parent[path[-1]] = weird(rng)
    return obj


# ---------------------------------------------------------------------------------------
# Readers: each returns (seeds: list[Callable[[rng], bytes-or-files]], read, check)


class Reader:
    name: str

    def __init__(self, work: Path):
        self.work = work

    def case(self, rng: random.Random, k: int) -> Path:  # write one case, return its path
        raise NotImplementedError

    def read(self, path: Path):
        raise NotImplementedError

    def valid(self, result, path: Path) -> bool:  # the reader's contract on what it returned
        return True


def _finite_real(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f" and bool(np.isfinite(a).all())


class IdxReader(Reader):
    name = "IDX (raw and gzipped)"

    def __init__(self, work):
        super().__init__(work)
        from test_data_support import idx_bytes

        rng = np.random.default_rng(0)
        self.seeds = [idx_bytes(rng.integers(0, 256, (6, 4, 4), dtype=np.uint8)),
                      idx_bytes(rng.integers(0, 10, 6, dtype=np.uint8)),
                      idx_bytes(rng.random((3, 2)).astype(">f4"))]

    def case(self, rng, k):
        raw = rng.choice(self.seeds)
        gz = rng.random() < 0.5
        op = rng.randrange(4)
        if op == 0 and gz:
            data = mutate_bytes(gzip.compress(raw, mtime=0), rng)
        elif op == 1:  # a header declaring other dimensions
            ndim = rng.choice((0, 2, 9, 65, 255))
            dims = b"".join(struct.pack(">I", rng.choice((0, 1, 5, 2**31, 2**32 - 1))) for _ in range(min(ndim, 70)))
            data = raw[:3] + bytes([ndim]) + dims + raw[8:]
            data = gzip.compress(data, mtime=0) if gz else data
        elif op == 2 and gz:  # a deflate stream with a reserved block type, or trailing junk
            data = gzip.compress(raw, mtime=0)
            data = data[:10] + bytes([0b111]) + data[11:] if rng.random() < 0.5 else data + b"junk"
        else:
            data = mutate_bytes(raw, rng)
            data = gzip.compress(data, mtime=0) if gz else data
        path = self.work / f"c{k}.idx{'.gz' if gz else ''}"
        path.write_bytes(data)
        return path

    def read(self, path):
        from nndl.data import read_idx

        return read_idx(path)

    def valid(self, result, path):
        return isinstance(result, np.ndarray) and 1 <= result.ndim <= 8


class MnistCacheReader(Reader):
    """The MNIST loader's file reader through its decoded cache (a small spec, same code)."""

    name = "MNIST loader + decoded cache"

    def __init__(self, work):
        super().__init__(work)
        import hashlib

        from test_data_support import idx_bytes

        from nndl.data import MnistFile

        self.array = np.random.default_rng(1).integers(0, 256, (5, 4, 4), dtype=np.uint8)
        self.raw = idx_bytes(self.array)
        self.spec = MnistFile("x-idx3-ubyte.gz", hashlib.md5(self.raw).hexdigest(), (5, 4, 4))
        self.source_gz = gzip.compress(self.raw, mtime=0)

    def case(self, rng, k):
        import hashlib

        folder = self.work / f"c{k}"
        (folder / "cache" / "decoded").mkdir(parents=True)
        source = folder / "x-idx3-ubyte.gz"
        if rng.random() < 0.5:  # a damaged source (no cache yet)
            source.write_bytes(mutate_bytes(self.source_gz, rng) if rng.random() < 0.7
                               else gzip.compress(mutate_bytes(self.raw, rng), mtime=0))
        else:  # a good source and a damaged (or lying) cache entry
            source.write_bytes(self.source_gz)
            key = hashlib.md5(self.source_gz).hexdigest()
            entry = folder / "cache" / "decoded" / f"{key}.{self.spec.md5}.npy"
            good = npy_bytes(self.array)
            op = rng.randrange(4)
            if op == 0:
                data = b""
            elif op == 1:
                data = npy_bytes(self.array, {"shape": rng.choice(((5, 4, 4, 1), (2**40,), (80,), ()))})
            elif op == 2:
                data = npy_bytes(self.array, {"descr": rng.choice(("|O", "<f8", "<U2", "|b1"))})
            else:
                data = mutate_bytes(good, rng)
            entry.write_bytes(data)
        return source

    def read(self, path):
        from nndl.data import _load_mnist_file

        return _load_mnist_file(path, self.spec, path.parent / "cache")

    def valid(self, result, path):
        array, md5 = result
        return np.array_equal(array, self.array) and md5 == self.spec.md5  # never wrong data


def _tiny_model_files(work: Path):
    import nndl

    net = nndl.Network([3, 4, 2], rng=np.random.default_rng(0))
    p = work / "seed.npz"
    net.save(p)
    with np.load(p) as z:
        members = {k: z[k] for k in z.files}
    return net, members


class ModelNpzReader(Reader):
    name = "model .npz"

    def __init__(self, work):
        super().__init__(work)
        self.net, self.members = _tiny_model_files(work)
        self.meta = json.loads(str(self.members["meta"]))

    def case(self, rng, k):
        members = {f"{n}.npy": npy_bytes(v) for n, v in self.members.items()}
        op = rng.randrange(9)
        if op == 0:  # metadata values
            meta = mutate_tree(self.meta, rng)
            members["meta.npy"] = npy_bytes(np.array(json.dumps(meta)))
        elif op == 1:  # metadata text
            members["meta.npy"] = npy_bytes(np.array(json_text_mutation(json.dumps(self.meta), rng)))
        elif op == 2:  # a member's dtype or shape in its .npy header
            name = rng.choice(list(members))
            arr = self.members[name[:-4]]
            change = rng.choice(({"descr": rng.choice(("|O", "<c16", "|b1", "<U3", "|S4", "<i8", ">f8", "<f2", "|V8"))},
                                 {"shape": rng.choice(((10**9, 10**9), (2, 2), (0,), (), (4, 3, 1), (2**62,)))},
                                 {"fortran_order": True}))
            members[name] = npy_bytes(arr, change)
        elif op == 3:  # arrays of other types or values
            name = rng.choice([n for n in members if n != "meta.npy"])
            arr = self.members[name[:-4]]
            members[name] = npy_bytes(rng.choice((arr.astype(bool), arr.astype(complex) + 1j,
                                                  arr.astype(str), np.full_like(arr, np.nan),
                                                  arr.astype(np.float16), np.array(0.0))))
        elif op == 4:  # members missing, extra, not .npy
            name = rng.choice(list(members))
            if rng.random() < 0.5:
                del members[name]
            else:
                members[rng.choice(("x.txt", "w9.npy", "meta", "../evil.npy"))] = rng.choice(
                    (b"hello", npy_bytes(np.zeros(3))))
        elif op == 5:  # a member that inflates far beyond its size (deflate bomb)
            if not hasattr(self, "_bomb"):
                members["w0.npy"] = npy_bytes(np.zeros((2000, 1000)))
                self._bomb = zip_bytes(members, compress=zipfile.ZIP_DEFLATED)
            return self._write(k, self._bomb)
        elif op == 6:  # encrypted flag or unknown compression methods
            raw = zip_bytes(members, compress=zipfile.ZIP_DEFLATED)
            return self._write(k, set_zip_flags(raw, flag_or=rng.choice((1, 0)),
                                                method=rng.choice((12, 14, 99, 9, None))))
        elif op == 7:
            return self._write(k, rng.choice((b"", b"hello, a text file\n", b"\x80\x04pickle",
                                              b"PK\x05\x06" + bytes(18), b"\x89PNG\r\n\x1a\n")))
        raw = zip_bytes(members, compress=rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)))
        if op == 8:
            raw = mutate_bytes(raw, rng)
        return self._write(k, raw)

    def _write(self, k, raw):
        path = self.work / f"c{k}.npz"
        path.write_bytes(raw)
        return path

    def read(self, path):
        import nndl

        return nndl.load(path)

    def valid(self, net, path):
        from nndl.costs import COSTS, cost_name

        ok = all(_finite_real(W) and W.shape == (b, a) for W, a, b in zip(net.weights, net.sizes, net.sizes[1:]))
        ok &= all(_finite_real(v) and v.shape == (b,) for v, b in zip(net.biases, net.sizes[1:]))
        with zipfile.ZipFile(path) as zf:  # the file's own metadata had exactly the right types
            meta = json.loads(str(np.load(io.BytesIO(zf.read("meta.npy")))))
        ok &= type(meta.get("format_version")) is int and cost_name(net.cost) in COSTS
        ok &= not isinstance(meta.get("dropout", 0.0), bool)
        return bool(ok)


class LayeredModelNpzReader(ModelNpzReader):
    """Chapter 6's layered model file (``nndl.network3``): the same mutations."""

    name = "layered model .npz (ch. 6)"

    def __init__(self, work):
        Reader.__init__(self, work)
        from nndl.network3 import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer, save

        rng = np.random.default_rng(0)
        self.net = Network([ConvPoolLayer((2, 1, 6, 6), (2, 1, 3, 3), (2, 2)),
                            FullyConnectedLayer(8, 4), SoftmaxLayer(4, 3)], 2, rng=rng)
        p = work / "seed3.npz"
        save(self.net, p)
        with np.load(p) as z:
            self.members = {k: z[k] for k in z.files}
        self.meta = json.loads(str(self.members["meta"]))

    def read(self, path):
        from nndl.network3 import load

        return load(path)

    def valid(self, net, path):
        ok = True
        for layer, ref in zip(net.layers, self.net.layers, strict=True):
            ok &= _finite_real(layer.w) and layer.w.shape == ref.w.shape
            ok &= _finite_real(layer.b) and layer.b.shape == ref.b.shape
        with zipfile.ZipFile(path) as zf:  # the file's own metadata had exactly the right types
            meta = json.loads(str(np.load(io.BytesIO(zf.read("meta.npy")))))
        ok &= type(meta.get("format_version")) is int
        mbs = meta.get("mini_batch_size")
        ok &= mbs is None or (type(mbs) is int and mbs >= 1)
        return bool(ok)


class Network2JsonReader(Reader):
    name = "network2 JSON"

    def __init__(self, work):
        super().__init__(work)
        rng = np.random.default_rng(2)
        sizes = [3, 4, 2]
        self.doc = {"sizes": sizes,
                    "weights": [rng.standard_normal((b, a)).tolist() for a, b in zip(sizes, sizes[1:])],
                    "biases": [rng.standard_normal((b, 1)).tolist() for b in sizes[1:]],
                    "cost": "CrossEntropyCost"}

    def case(self, rng, k):
        op = rng.randrange(4)
        if op == 0:
            text = json.dumps(mutate_tree(self.doc, rng))
        elif op == 1:
            text = json_text_mutation(json.dumps(self.doc), rng)
        elif op == 2:  # declared sizes far beyond the arrays
            doc = dict(self.doc, sizes=rng.choice(([3, 10**9, 2], [3, 4, 2**40], [3] * 2000, [3, 4, True])))
            text = json.dumps(doc)
        else:
            text = json.dumps(self.doc).replace(rng.choice(("0.", "-", "]")), rng.choice(('"1.5"', "true", "[", "1e999", "")), 1)
        path = self.work / f"c{k}.json"
        path.write_text(text, encoding="latin1")
        return path

    def read(self, path):
        import nndl

        return nndl.load(path)

    def valid(self, net, path):
        doc = json.loads(path.read_text(encoding="latin1"))

        def numbers(node):
            if isinstance(node, list):
                return all(numbers(v) for v in node)
            return isinstance(node, (int, float)) and not isinstance(node, bool)

        ok = numbers(doc["weights"]) and numbers(doc["biases"])
        ok &= all(type(s) is int for s in doc["sizes"])
        ok &= all(_finite_real(W) and W.shape == (b, a) for W, a, b in zip(net.weights, net.sizes, net.sizes[1:]))
        return bool(ok)


class UserNpzReader(Reader):
    name = "user .npz data"

    def __init__(self, work):
        super().__init__(work)
        rng = np.random.default_rng(3)
        self.arrays = {"x_train": rng.integers(0, 256, (14, 4, 4), dtype=np.uint8),
                       "y_train": np.arange(14) % 10,
                       "x_test": rng.random((7, 16)), "y_test": np.arange(7) % 10}

    def case(self, rng, k):
        arrays = dict(self.arrays)
        op = rng.randrange(6)
        if op == 0:
            key = rng.choice(list(arrays))
            arrays[key] = rng.choice((np.array(3.0), np.zeros((0, 16)), np.zeros(0, int),
                                      arrays[key].astype(complex), arrays[key].astype(str),
                                      arrays[key].astype(bool), np.full(arrays[key].shape, np.nan),
                                      arrays[key].astype(np.int64) * 300, -arrays[key].astype(np.int64) - 1,
                                      arrays[key][:3], arrays[key].astype(np.float32) * 2))
        elif op == 1:
            arrays[rng.choice(("X_test", "X_train", "x", "y", "x_val", "y_validation"))] = rng.choice(
                (arrays["x_test"], arrays["y_test"], np.zeros((7, 16))))
        elif op == 2:
            del arrays[rng.choice(list(arrays))]
        members = {f"{n}.npy": npy_bytes(v) for n, v in arrays.items()}
        if op == 3:
            name = rng.choice(list(members))
            members[name] = npy_bytes(arrays[name[:-4]], rng.choice((
                {"shape": (10**6, 10**6)}, {"descr": "|O"}, {"shape": ()}, {"shape": (2**33,)})))
        raw = zip_bytes(members, compress=rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)))
        if op == 4:
            raw = mutate_bytes(raw, rng)
        if op == 5:
            if not hasattr(self, "_bomb"):
                members["x_train.npy"] = npy_bytes(np.zeros((3000, 1000), np.uint8))
                self._bomb = zip_bytes(members, compress=zipfile.ZIP_DEFLATED)
            raw = set_zip_flags(self._bomb, method=rng.choice((None, 12, 14)),
                                flag_or=rng.choice((0, 1)))
        path = self.work / f"c{k}.npz"
        path.write_bytes(raw)
        return path

    def read(self, path):
        from nndl.data import load_dataset

        return load_dataset(str(path))

    def valid(self, splits, path):
        with zipfile.ZipFile(path) as zf:
            names = {n[:-4] for n in zf.namelist()}
        both = any(f"x{s}" in names and f"X{s}" in names for s in ("_train", "_test", "_val", ""))
        ok = not both
        for d in (splits.training, splits.validation, splits.test):
            ok &= len(d.y) > 0 and _finite_real(d.X) and d.X.min() >= 0 and d.X.max() <= 1
            ok &= d.y.dtype == np.int64 and d.y.min() >= 0 and d.y.max() <= 9
        return bool(ok)


def png_bytes(array: np.ndarray, mode: str | None = None, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format=fmt) if mode else Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def png_with_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (with a correct CRC)."""
    raw = png_bytes(np.zeros((2, 2), np.uint8))
    ihdr = bytearray(raw[12:29])  # b"IHDR" + 13 bytes
    struct.pack_into(">II", ihdr, 4, width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return raw[:12] + bytes(ihdr) + crc + raw[33:]


def image_seeds() -> list[bytes]:
    rng = np.random.default_rng(4)
    grey = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    rgba = np.dstack([np.full((8, 8), 255, np.uint8)] * 3 + [grey])
    return [png_bytes(grey), png_bytes(255 - digit), png_bytes(rgba), png_bytes(grey, fmt="BMP"),
            png_bytes(grey, fmt="GIF"), png_bytes(np.dstack([grey] * 3), fmt="JPEG"),
            png_bytes(grey, fmt="TIFF"), png_bytes((digit.astype(np.uint16) * 257), fmt="PNG"),
            png_bytes(digit.astype(np.float32) / 255, fmt="TIFF")]


def image_case(rng: random.Random, seeds: list[bytes]) -> bytes:
    op = rng.randrange(5)
    if op == 0:
        return png_with_size(rng.choice((13000, 1, 0, 2**31 - 1, 70000)), rng.choice((13000, 1, 0, 100000)))
    if op == 1:
        return rng.choice((b"", b"hello", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, seeds[0][:30]))
    return mutate_bytes(rng.choice(seeds), rng)


class ImageFolderReader(Reader):
    name = "image folders"

    def __init__(self, work):
        super().__init__(work)
        self.seeds = image_seeds()
        rng = np.random.default_rng(5)
        self.good = [png_bytes(rng.integers(0, 256, (6, 6), dtype=np.uint8)) for _ in range(10)]

    def case(self, rng, k):
        root = self.work / f"c{k}"
        for label in range(10):
            (root / str(label)).mkdir(parents=True)
            (root / str(label) / "0.png").write_bytes(self.good[label])
        target = root / str(rng.randrange(10)) / f"{rng.randrange(2)}.png"
        op = rng.randrange(7)
        if op == 0 and hasattr(os, "mkfifo"):
            target.unlink(missing_ok=True)
            os.mkfifo(target)
        elif op == 1:
            target.unlink(missing_ok=True)
            outside = self.work / f"outside{k}.png"
            outside.write_bytes(self.good[0])
            target.symlink_to(outside)
        elif op == 2:
            (root / rng.choice(("x", "10", "a"))).mkdir()
        elif op == 3:  # a valid 6x6 image in another mode: 16-bit, transparent, float, palette
            grey = np.random.default_rng(k).integers(0, 256, (6, 6), dtype=np.uint8)
            target.write_bytes(rng.choice((
                png_bytes(grey.astype(np.uint16) * 257),
                png_bytes(np.dstack([grey] * 3 + [255 - grey])),
                png_bytes(grey.astype(np.float32) / 255, fmt="TIFF"),
                png_bytes(np.dstack([grey] * 3), fmt="GIF"))))
        else:
            target.write_bytes(image_case(rng, self.seeds))
        return root

    def read(self, path):
        from nndl.data import load_dataset

        return load_dataset(str(path))

    def valid(self, splits, path):
        for p in path.rglob("*"):
            if p.is_symlink() or (p.exists() and not (p.is_dir() or p.is_file())):
                return False
        return all(_finite_real(d.X) and 0 <= d.X.min() and d.X.max() <= 1 and len(d.y)
                   for d in (splits.training, splits.validation, splits.test))


class PredictImageReader(Reader):
    name = "predict's image reader"

    def __init__(self, work):
        super().__init__(work)
        self.seeds = image_seeds()

    def case(self, rng, k):
        path = self.work / f"c{k}.png"
        if rng.random() < 0.03 and hasattr(os, "mkfifo"):
            os.mkfifo(path)
        else:
            path.write_bytes(image_case(rng, self.seeds))
        return path

    def read(self, path):
        from nndl.images import digit_input

        return digit_input(path, 784)

    def valid(self, x, path):
        return _finite_real(x) and x.shape == (784,) and x.min() >= 0 and x.max() <= 1


class TomlReader(Reader):
    name = "TOML config"

    SEED = 'sizes = [64, 30, 10]\neta = 0.5\nlmbda = 5.0\nmini-batch-size = 10\nepochs = 3\nexpand = 0\nseed = 1\ncost = "cross-entropy"\n'

    def case(self, rng, k):
        op = rng.randrange(4)
        text = self.SEED
        if op == 0:
            lines = text.splitlines()
            i = rng.randrange(len(lines))
            key = lines[i].split(" = ")[0]
            value = rng.choice(("2147483648", "4294967297", "-1", "true", '"10"', "1e999", "nan", "[]",
                                "9" * 5000, "[" * 3000 + "]" * 3000, "{a = 1}", "0x7fffffffffffffff", "1.5"))
            lines[i] = f"{key} = {value}"
            text = "\n".join(lines) + "\n"
        elif op == 1:
            text += rng.choice(("mini_batch_size = 20\n", "unknown = 1\n", "[train]\neta = 1\n",
                                "data = \"x\\u0000y\"\n", "a.b.c.d.e.f.g = 1\n" * 3))
        elif op == 2:
            text = json_text_mutation(text, rng)
        else:
            text = mutate_bytes(text.encode(), rng).decode("latin1")
        path = self.work / f"c{k}.toml"
        path.write_text(text, encoding="latin1")
        return path

    def read(self, path):
        from nndl.runs import TrainSettings, read_config

        s = TrainSettings.from_dict(read_config(path), "config")
        s.check()
        return s

    def valid(self, s, path):
        from nndl.runs import MAX_SETTING

        text = path.read_text(encoding="latin1")
        twice = "mini-batch-size" in text and "mini_batch_size" in text
        ok = not twice and all(getattr(s, n) is None or getattr(s, n) <= m for n, m in MAX_SETTING.items())
        return bool(ok and (s.sizes is None or max(s.sizes) <= 10**6))


class CheckpointReader(Reader):
    """--resume's readers: history.json, checkpoint.npz, and the state checked against the data."""

    name = "--resume checkpoint + history"

    def __init__(self, work):
        super().__init__(work)
        from nndl.cli import main

        self.run = work / "seed-run"
        with open(os.devnull, "w") as null:
            saved = sys.stdout
            sys.stdout = null
            try:
                code = main(["-q", "train", "--data", "digits", "--epochs", "2", "--training-size", "100",
                             "--momentum", "0.5", "--no-plots", "-o", str(self.run)])
            finally:
                sys.stdout = saved
        assert code == 0
        # a mid-epoch checkpoint too: state with a perm
        with np.load(self.run / "checkpoint.npz") as z:
            self.members = {k: z[k] for k in z.files}
        self.meta = json.loads(str(self.members["meta"]))
        self.history = (self.run / "history.json").read_text()
        from nndl.data import load_digits

        self.splits = load_digits()

    def case(self, rng, k):
        import shutil

        folder = self.work / f"c{k}"
        folder.mkdir()
        shutil.copy(self.run / "model.npz", folder / "model.npz")
        members = dict(self.members)
        meta = json.loads(json.dumps(self.meta))
        state = meta["extra"]["state"]
        history = self.history
        op = rng.randrange(7)
        if op == 0:  # a state field
            key = rng.choice(list(state))
            if key == "history":
                state["history"] = mutate_tree(state["history"], rng)
            elif key in ("rng_state", "net_rng_state") and rng.random() < 0.7:
                state[key] = mutate_tree(state[key], rng)
            else:
                state[key] = weird(rng)
        elif op == 1:  # settings that contradict the network, or bad ones
            settings = meta["extra"]["settings"]
            key = rng.choice(list(settings))
            settings[key] = rng.choice((weird(rng), [64, 31, 10], "quadratic", "float32", 0.3))
        elif op == 2:  # the permutation
            state["batch"] = rng.choice((0, 3, 5, 11, 10**6))
            n = 100
            perm = rng.choice((np.arange(n)[::-1].copy(), np.arange(n) + 1, np.zeros(n, int),
                               np.arange(n + 1), np.arange(n).astype(float), None, -np.arange(n)))
            if perm is None:
                members.pop("perm", None)
            else:
                members["perm"] = perm
        elif op == 3:  # velocities
            key = rng.choice([k for k in members if k.startswith("v")] or ["v0"])
            members[key] = rng.choice((np.zeros(3), members.get(key, np.zeros(1)).astype(complex), np.array("x")))
            if rng.random() < 0.3:
                members.pop(key, None)
        elif op == 4:  # history.json
            history = json.dumps(mutate_tree(json.loads(history), rng)) if rng.random() < 0.6 else \
                json_text_mutation(history, rng)
        elif op == 5:
            meta = mutate_tree(meta, rng)
        members["meta"] = np.array(json.dumps(meta))
        raw = zip_bytes({f"{n}.npy": npy_bytes(v) for n, v in members.items()})
        if op == 6:
            raw = mutate_bytes(raw, rng)
        (folder / "checkpoint.npz").write_bytes(raw)
        (folder / "history.json").write_text(history, encoding="latin1")
        return folder

    def read(self, folder):
        from nndl import runs

        record = runs.RunRecord.from_file(folder)
        net, settings, state = runs.load_checkpoint(folder / runs.CHECKPOINT)
        training, evaluation = runs.prepare_data(settings, self.splits)
        runs.check_state(state, len(training.y), settings.mini_batch_size, folder / runs.CHECKPOINT)
        session = runs.Session(record, net, training, evaluation, state)  # Trainer.restore
        return session, state, len(training.y)

    def valid(self, result, folder):
        session, state, n = result
        perm = state["perm"]
        ok = perm is None or np.array_equal(np.sort(perm), np.arange(n))
        ok &= state["batch"] == 0 or perm is not None
        ok &= all(type(state[k]) is int for k in ("epoch", "batch", "best_accuracy"))
        ok &= session.trainer.epoch == state["epoch"]
        return bool(ok)


class SweepResultsReader(Reader):
    """``nndl sweep``'s results.jsonl: a line it cannot use (cut short, not UTF-8, not JSON, not a
    row) is a one-line warning naming the file, and the cell is recomputed. The warning counts
    as the clean outcome here (the reader raises nothing by design: a resumed sweep goes on)."""

    name = "sweep results.jsonl"

    def __init__(self, work):
        super().__init__(work)
        settings = {"data": "digits", "eta": 0.5, "epochs": 2, "seed": 0, "evaluate_on": "validation"}
        ok = {"key": "0123456789abcdef", "varied": {"eta": 0.5}, "seed": 0, "status": "ok", "error": None,
              "best_accuracy": 0.9, "best_epoch": 1, "final_accuracy": 0.88, "accuracy_curve": [0.8, 0.9],
              "settings": settings, "seconds": 1.5}
        error = {**ok, "key": "fedcba9876543210", "status": "error", "error": "DivergenceError: x",
                 "best_accuracy": None, "best_epoch": None}
        self.rows = [ok, error]

    def case(self, rng, k):
        rows = [json.loads(json.dumps(r)) for r in self.rows]
        op = rng.randrange(4)
        if op == 0:
            rows[rng.randrange(2)] = mutate_tree(rows[rng.randrange(2)], rng)
        text = "".join(json.dumps(r) + "\n" for r in rows)
        if op == 1:
            text = json_text_mutation(text, rng)
        data = text.encode("utf-8", "surrogatepass")
        if op == 2:
            data = mutate_bytes(data, rng)
        elif op == 3:  # binary garbage (head -c N /dev/urandom), or a line cut short
            data = rng.randbytes(rng.randrange(1, 5000)) if rng.random() < 0.5 else data[:rng.randrange(len(data))]
        path = self.work / f"c{k}.jsonl"
        path.write_bytes(data)
        return path

    def read(self, path):
        import logging

        from nndl.errors import DataError
        from nndl.sweep import read_rows

        warnings: list[str] = []

        class Catch(logging.Handler):
            def emit(self, record):
                warnings.append(record.getMessage())

        log, catch = logging.getLogger("nndl.sweep"), Catch(logging.WARNING)
        level = log.level
        log.addHandler(catch)
        log.setLevel(logging.WARNING)  # fuzz() silences nndl's loggers; these warnings are the outcome
        try:
            rows = read_rows(path)
        finally:
            log.removeHandler(catch)
            log.setLevel(level)
        if warnings:  # reported: each warning one line naming the file
            if any("\n" in w or str(path) not in w for w in warnings):
                raise ValueError(f"a warning that is not one line naming the file: {warnings}")
            raise DataError(warnings[0])
        return rows

    def valid(self, rows, path):
        from nndl.sweep import row_problem

        lines = [x for x in path.read_bytes().split(b"\n") if x.strip()]
        return len(rows) == len(lines) and all(row_problem(r) is None for r in rows)


READERS: tuple[type[Reader], ...] = (IdxReader, MnistCacheReader, ModelNpzReader, LayeredModelNpzReader,
                                     Network2JsonReader,
                                     UserNpzReader, ImageFolderReader, PredictImageReader, TomlReader,
                                     CheckpointReader, SweepResultsReader)


def classify(reader: Reader, path: Path, trace: bool = True) -> tuple[str, str]:
    """Run one case; return (outcome, detail).

    A case that runs out of time under tracemalloc (which slows allocation-heavy code many
    times over) is run again without it: only then is it a hang.
    """
    import warnings

    from nndl.errors import NndlError

    warnings.simplefilter("ignore")  # a damaged file's warnings are not failures
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    previous = signal.signal(signal.SIGALRM, _alarm)
    previous_prof = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_REAL, WALL_BOUND)
    signal.setitimer(signal.ITIMER_PROF, TIME_BOUND)
    result, peak = None, 0
    try:
        result = reader.read(path)
        outcome, detail = "accepted", ""
    except NndlError as exc:
        message = str(exc)
        outcome, detail = ("other", f"not one line: {message!r}") if "\n" in message or not message \
            else ("clean", message)
    except _Hang:
        outcome, detail = "hang", str(path)
    except Exception as exc:  # noqa: BLE001 - that is what we look for
        outcome, detail = "other", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGPROF, previous_prof)
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    if outcome == "hang" and trace:
        return classify(reader, path, trace=False)
    if peak > MEMORY_BOUND:
        return "memory", f"{peak / 2**20:.0f} MiB: {path}"
    if outcome == "accepted":
        try:
            if not reader.valid(result, path):
                return "invalid", str(path)
        except Exception as exc:  # noqa: BLE001 - the contract could not even be checked
            return "invalid", f"{path}: {type(exc).__name__}: {exc}"
    return outcome, detail


def fuzz(reader_cls: type[Reader], cases: int, seed: int = 0, work: Path | None = None) -> dict:
    """Run ``cases`` cases against one reader; return the counts and examples of failures."""
    import logging
    import shutil

    logging.getLogger("nndl").setLevel(logging.CRITICAL)  # the readers' warnings are not failures
    own = work is None
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = Path(tempfile.mkdtemp(prefix="nndl-fuzz-", dir=shm)) if own else work
    try:
        reader = reader_cls(work)
        rng = random.Random(seed)
        counts: Counter = Counter()
        examples: dict[str, list[str]] = {}
        for k in range(cases):
            path = reader.case(rng, k)
            outcome, detail = classify(reader, path)
            counts[outcome] += 1
            if outcome not in ("clean", "accepted"):
                examples.setdefault(outcome, []).append(detail)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return {"reader": reader.name, "tried": cases, **{o: counts[o] for o in OUTCOMES},
                "examples": {o: v[:5] for o, v in examples.items()}}
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def table(rows: list[dict]) -> str:
    lines = ["| reader | tried | clean error | other exception | > 64 MiB | hang | accepted (valid) | accepted though invalid |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['reader']} | {r['tried']} | {r['clean']} | {r['other']} | {r['memory']} | "
                     f"{r['hang']} | {r['accepted']} | {r['invalid']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per reader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="a substring of one reader's name")
    args = parser.parse_args(argv)
    rows = []
    for cls in READERS:
        if args.only and args.only.lower() not in cls.name.lower():
            continue
        t0 = time.perf_counter()
        row = fuzz(cls, args.cases, args.seed)
        rows.append(row)
        print(f"{row['reader']}: {time.perf_counter() - t0:.1f} s; failures: {row['examples']}",
              file=sys.stderr)
    print(table(rows))
    return 0 if all(r["other"] + r["memory"] + r["hang"] + r["invalid"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
