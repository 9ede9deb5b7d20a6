"""Chapter 6's layers (the book's ``network3.py``) on NumPy: conv + max-pool, fully connected, softmax.

Each layer has the book's name, arguments and initialisation, and a ``forward`` /
``backward`` pair over a whole mini-batch (CS231n's pattern, STYLE.md chapter 6): the
backward pass takes dC/da of the layer's output and returns dC/da of its input, leaving
the layer's own gradients in ``nabla_w`` and ``nabla_b``. No Python loop runs over
examples or image positions: a convolution is one im2col view
(``numpy.lib.stride_tricks.sliding_window_view``) copied into a preallocated buffer and
one GEMM; max-pooling is a maximum over the pool's offsets.

Layout (private): the feature maps travel between conv layers channel-last, a mini-batch
of maps is (m, height, width, channels) stored as rows (m * height * width, channels),
because that is what the GEMM of an im2col matrix produces. The public shapes are the
book's: images (m, channels * height * width) flattened in (channel, row, column) order,
filters ``w`` (n_filters, channels, fh, fw), and a ConvPoolLayer followed by a fully
connected layer hands it its output flattened in the book's (filter, row, column) order.

Convolution or correlation (said once): Theano's ``conv2d``, which ``network3.py`` calls,
flips the kernel, it computes a true convolution
``z[f, i, j] = sum_{c, p, q} x[c, i + p, j + q] * w[f, c, fh-1-p, fw-1-q]``, and so does
nndl, so that ``w`` means what it meant in the book's program. PyTorch's ``conv2d`` and
most "CNN from scratch" code compute the cross-correlation (no flip): compare filters
with theirs after ``w[:, :, ::-1, ::-1]``. Flipping does not change what a network can
learn: the flipped filter is just another parameter, the map from parameters to
functions is the same set, and gradient descent from a flipped start follows the flipped
path (the learned filters of the first layer, as pictures, appear rotated by 180 degrees).

The order within a ConvPoolLayer is the book's: a = f(maxpool(conv(x, w)) + b), the bias
and activation AFTER pooling (network3: ``pooled_out + b.dimshuffle(...)``). Max-pooling
commutes with adding a per-filter bias and with a monotone f, so this is the same function
as pooling f(conv + b), computed on 4x fewer elements for 2x2 pools.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from numpy.typing import NDArray
from scipy.linalg import blas as _blas

from nndl.activations import ReLU, Sigmoid, Tanh
from nndl.activations import log_softmax as _log_softmax

Array = NDArray[np.floating]

# im2col of windows whose rows are short (fw * channels numbers, e.g. the first layer's 5
# pixels): one gather from a precomputed index (np.take) instead of the strided copy,
# measured 1.6x faster for ch6-conv1's layer (and 5x slower for ch6-conv2's second layer,
# whose window rows are 100 numbers long). The same numbers either way (tests run both).
GATHER_BELOW = 16
# A fully connected layer's dC/dx goes Fortran-ordered to the layer below for mini-batches up
# to this size: the product is faster (2880 x 100 at m = 10: 119 vs 148 us), but a conv layer
# below reads it transposed, which costs more as m grows (at m = 100: 594 vs 623 us for the
# product, 179 vs 112 us for the conv layer's copy; at m = 50 the two about cancel).
DX_FORTRAN_MAX = 32
# Bounds on one layer, checked before anything is allocated (by the constructors, so for a
# model file's layers and a user's alike): its weights and biases, and the values it computes
# per example (a conv layer's convolution output, a fully connected layer's n_in and n_out),
# which the network holds for every example of a mini-batch.
MAX_PARAMETERS = 200_000_000
MAX_UNITS = 10_000_000
INITS3 = ("book", "n_in")  # "book": network3's N(0, 1/n_out); "n_in": nndl's option N(0, 1/n_in)


class Linear:
    """Linear neurons f(z) = z (network3's ``linear``)."""

    name = "linear"

    @staticmethod
    def fn(z: Array) -> Array:
        return np.asarray(z)

    @staticmethod
    def prime_from_a(a: Array) -> Array:
        return np.ones_like(a)


#: network3's activation functions by name (the objects come from nndl.activations).
ACTIVATIONS3: dict[str, type] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "linear": Linear}


def activation_name(activation_fn) -> str:
    """The name of an activation given as a name, one of nndl's activation classes, or the book's."""
    if isinstance(activation_fn, str):
        name = activation_fn.lower()
    else:
        name = getattr(activation_fn, "name", getattr(activation_fn, "__name__", "")).lower()
    if name not in ACTIVATIONS3:
        raise ValueError(f"unknown activation {activation_fn!r}; choose from {', '.join(ACTIVATIONS3)}")
    return name


def _sigmoid(z: Array, out: Array) -> None:
    """out = sigma(z) = 1 / (1 + e^{-z}), eq. (3), in four vectorised passes (in place if out is z).

    NumPy's exp is vectorised (SIMD) for float32 where its tanh is not on AVX2 machines, so this
    is 2.6x faster than eq. (111)'s tanh form that chapter 3's fast step uses (measured here on
    28,800 float32 values, ch6-conv2's first layer at mini-batch 10: 62 against 163 us). Where
    e^{-z} overflows (z < -88.7 in float32) it is inf and the result 0, as the exact value
    rounds to (below 1e-38); the overflow is expected, so not warned about.
    """
    one = out.dtype.type(1.0)
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
        np.add(out, one, out=out)
        np.divide(one, out, out=out)


def _activate(name: str, z: Array, out: Array) -> None:
    """out = f(z), elementwise, in place where out is z."""
    if name == "sigmoid":
        _sigmoid(z, out)
    elif name == "tanh":
        np.tanh(z, out=out)
    elif name == "relu":
        np.maximum(z, 0.0, out=out)
    elif out is not z:
        np.copyto(out, z)


def _times_prime(name: str, a: Array, d: Array, tmp: Array) -> None:
    """d *= f'(z), with f'(z) written in terms of a = f(z) (tmp: scratch of d's shape)."""
    if name == "sigmoid":
        np.subtract(1.0, a, out=tmp)  # sigma'(z) = a (1 - a)
        np.multiply(d, a, out=d)
        np.multiply(d, tmp, out=d)
    elif name == "tanh":
        np.multiply(a, a, out=tmp)  # tanh'(z) = 1 - a^2
        np.subtract(1.0, tmp, out=tmp)
        np.multiply(d, tmp, out=d)
    elif name == "relu":
        np.greater(a, 0.0, out=tmp)  # ReLU'(z) = 1 where z > 0, else 0 (0 at the kink z = 0)
        np.multiply(d, tmp, out=d)


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dt}")
    return dt


def _is_number(v) -> bool:
    """A real number, not a bool or a string (``True`` and ``"0.5"`` are not numbers here)."""
    return isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_))


def _positive_ints(value, n: int, what: str) -> tuple[int, ...]:
    """``value``: ``n`` whole numbers >= 1 (ints or integral floats; not bools or strings)."""
    words = "a whole number" if n == 1 else f"{n} whole numbers"
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"{what} must be {words}; got {value!r}") from None
    shown = items[0] if n == 1 and len(items) == 1 else value  # one number: said as itself, not (0,)
    if len(items) != n or not all(_is_number(v) and np.isfinite(v) and int(v) == v for v in items):
        raise ValueError(f"{what} must be {words} >= 1; got {shown!r}")
    t = tuple(int(v) for v in items)
    if min(t) < 1:
        raise ValueError(f"{what} must be {words} >= 1; got {shown!r}")
    return t


def _check_layer_size(layer: str, n_params: int, n_units: int, units: str) -> None:
    """ValueError naming ``layer`` if it is larger than nndl builds (MAX_PARAMETERS, MAX_UNITS)."""
    if n_params > MAX_PARAMETERS:
        raise ValueError(f"{layer} has {n_params:,} weights and biases, more than nndl loads or "
                         f"builds ({MAX_PARAMETERS:,} at most)")
    if n_units > MAX_UNITS:
        raise ValueError(f"{layer} has {n_units:,} {units} per example, more than nndl loads or "
                         f"builds ({MAX_UNITS:,} at most)")


def check_p_dropout(p_dropout) -> float:
    """``p_dropout`` as a float in [0, 1); ValueError otherwise (also for bools and strings)."""
    if not _is_number(p_dropout) or not 0.0 <= float(p_dropout) < 1.0:
        raise ValueError(f"p_dropout must be a number in [0, 1); got {p_dropout!r}")
    return float(p_dropout)


class _Buffers(dict):
    """Per-mini-batch-size scratch arrays, at most a few sizes (training, evaluation, remainder)."""

    MAX_SIZES = 4

    def get(self, m: int, make):  # type: ignore[override]
        b = dict.get(self, m)
        if b is None:
            if len(self) >= self.MAX_SIZES:
                self.pop(next(iter(self)))
            b = self[m] = make(m)
        return b


def _step(layer, update: float) -> None:
    """The SGD step from the layer's gradients (already times eta): w -> update w - nabla_w, b -> b - nabla_b."""
    if update != 1.0:
        layer.w *= update  # the L2 term's share of the step, eq. (93) (weights only, not biases)
    layer.w -= layer.nabla_w
    layer.b -= layer.nabla_b


def _windows(x4: Array, fh: int, fw: int, ph: int, pw: int, PH: int, PW: int) -> Array:
    """The im2col view of channel-last maps x4 (m, H, W, C), no copy.

    Shape (ph, pw, m, PH, PW, fh, fw, C): entry [di, dj, n, i, j, p, q, c] is
    x4[n, i*ph + di + p, j*pw + dj + q, c], the (p, q) entry of the window whose output
    lies at offset (di, dj) of pooling block (i, j) (``as_strided`` on x4's own strides;
    every index stays inside x4, since i*ph + di + p <= PH*ph - 1 + fh - 1 <= H - 1).
    """
    sn, sy, sx, sc = x4.strides
    return as_strided(x4, (ph, pw, x4.shape[0], PH, PW, fh, fw, x4.shape[3]),
                      (sy, sx, sn, ph * sy, pw * sx, sy, sx, sc), writeable=False)


def _col2im_plan(dnat: Array, dx: Array, fh: int, fw: int) -> tuple:
    """Buffers and views, made once per buffer, for ``_col2im_gemm``.

    dnat : (m, OH, OW, F), the gradient at the convolution's outputs in the positions'
        natural order; dx : (m, H, W, C), channel-last. For one filter row p, the windows
        whose columns ox share a residue r modulo fw cover disjoint, adjacent runs of fw * C
        numbers of an input row, so one addition per (p, r) moves them all. The rows of
        dnat are first copied in the order (r, example, row, ox // fw) (``dres``), so that
        the GEMM of filter row p writes, for each r, one contiguous block that is added to
        dx in one go: runs of k * fw * C contiguous numbers on both sides.
    """
    m, OH, OW, F = dnat.shape
    _, H, W, C = dx.shape
    dres = np.empty((m * OH * OW, F), dnat.dtype)
    buf = np.empty((m * OH * OW, fw * C), dnat.dtype)  # dC/d(window entries) of one filter row
    rows = dx.reshape(m, H, W * C)
    reorder, adds, lo = [], [[] for _ in range(fh)], 0
    for r in range(min(fw, OW)):
        k = len(range(r, OW, fw))  # windows ox = r, r + fw, ..., r + (k-1) fw
        n = m * OH * k
        reorder.append((dres[lo: lo + n].reshape(m, OH, k, F), dnat[:, :, r::fw]))
        for p in range(fh):
            adds[p].append((rows[:, p: p + OH, r * C: (r + k * fw) * C], buf[lo: lo + n].reshape(m, OH, k * fw * C)))
        lo += n
    return dres, buf, reorder, adds


def _col2im_gemm(dx: Array, w_corr: Array, plan: tuple) -> None:
    """dx = dC/dx of a convolution from dnat (``_col2im_plan``) and the kernel matrix w_corr
    (F, fh * fw * C): for each filter row p, one GEMM dnat . w_corr[:, p] gives dC/d(every
    window entry of row p), which fh * fw slice additions put at the input pixels they came
    from (col2im: a loop over the kernel's offsets, not over positions or examples)."""
    dres, buf, reorder, adds = plan
    for dst, src in reorder:
        np.copyto(dst, src)
    width = buf.shape[1]  # fw * C
    dx.fill(0.0)
    for p, pairs in enumerate(adds):
        np.matmul(dres, w_corr[:, p * width: (p + 1) * width], out=buf)  # (m*OH*OW, fw*C)
        for v, d in pairs:
            np.add(v, d, out=v)


class ConvPoolLayer:
    """A convolutional layer followed by max-pooling: a = f(maxpool(w * x) + b) (network3).

    Parameters
    ----------
    image_shape : (mini_batch_size, channels, height, width), the book's, or (channels, height, width)
        The input feature maps. The layer works for any batch size; the book's
        mini_batch_size, when given, is kept as ``self.mini_batch_size`` and a ``Network``
        with another ``mini_batch_size`` raises ValueError (as network3's would fail).
    filter_shape : (n_filters, channels, fh, fw)
        The filters, e.g. ``(20, 1, 5, 5)``; channels must equal the image's.
    poolsize : (ph, pw), default (2, 2)
        Non-overlapping max-pooling blocks; the rows and columns that do not fill a block
        are ignored (Theano's ``ignore_border=True``).
    activation_fn : sigmoid (default), tanh, ReLU or linear (a name or an activation class)
    rng : numpy.random.Generator, optional
        Draws the initial weights now (w, then b, as network3 does). Without one the
        parameters stay zero until a ``Network`` initialises them from its own generator.
    dtype : float32 (default, as the book's Theano floatX) or float64
    init : "book" (default): w ~ N(0, 1/n_out) with n_out = n_filters * fh * fw / (ph * pw),
        b ~ N(0, 1), network3's. "n_in": nndl's option w ~ N(0, 1/(channels * fh * fw)).

    Attributes
    ----------
    w : (n_filters, channels, fh, fw); b : (n_filters,)
    nabla_w, nabla_b : the gradients of the last ``backward``, same shapes.
    n_in : channels * height * width; n_out : n_filters * pooled height * pooled width.

    Raises ValueError for inconsistent shapes (filters larger than the image, channels
    that differ, a pool larger than the convolution's output).
    """

    kind = "conv"

    def __init__(self, image_shape, filter_shape, poolsize=(2, 2), activation_fn=Sigmoid, *,
                 rng: np.random.Generator | None = None, dtype=np.float32, init: str = "book") -> None:
        image_shape = tuple(image_shape)
        self.mini_batch_size = None  # the book's image_shape[0], checked by Network against its own
        if len(image_shape) == 4:
            self.mini_batch_size = _positive_ints(image_shape[:1], 1, "image_shape[0] (mini_batch_size)")[0]
            image_shape = image_shape[1:]
        self.image_shape = _positive_ints(image_shape, 3, "image_shape (channels, height, width)")
        self.filter_shape = _positive_ints(filter_shape, 4, "filter_shape (n_filters, channels, fh, fw)")
        self.poolsize = _positive_ints(poolsize, 2, "poolsize")
        C, H, W = self.image_shape
        F, C2, fh, fw = self.filter_shape
        if C2 != C:
            raise ValueError(f"filter_shape has {C2} channels but image_shape has {C}")
        if fh > H or fw > W:
            raise ValueError(f"filters {fh}x{fw} are larger than the {H}x{W} image")
        self.conv_shape = (H - fh + 1, W - fw + 1)  # a "valid" convolution
        ph, pw = self.poolsize
        self.pooled_shape = (self.conv_shape[0] // ph, self.conv_shape[1] // pw)
        if min(self.pooled_shape) < 1:
            raise ValueError(f"poolsize {self.poolsize} is larger than the {self.conv_shape} convolution output")
        _check_layer_size(f"ConvPoolLayer with filter_shape {self.filter_shape}", F * C * fh * fw + F,
                          max(C * H * W, F * self.conv_shape[0] * self.conv_shape[1]), "inputs or convolution outputs")
        self.activation = activation_name(activation_fn)
        if init not in INITS3:
            raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS3)}")
        self.init = init
        self.dtype = _dtype(dtype)
        self.n_in = C * H * W
        self.n_out = F * self.pooled_shape[0] * self.pooled_shape[1]
        self.w = np.zeros(self.filter_shape, dtype=self.dtype)
        self.b = np.zeros(F, dtype=self.dtype)
        self.nabla_w = np.zeros_like(self.w)
        self.nabla_b = np.zeros_like(self.b)
        # Set by the Network: inputs arrive in the book's (channel, row, column) order (the
        # first layer, or after a fully connected layer) / the output goes to a fully
        # connected layer flattened in the book's (filter, row, column) order.
        self.input_book_order = True
        self.output_book_order = True
        # How backward computes dC/dx (same numbers, tests pin them together): "col2im" (the
        # default, measured faster) or "padded", the upstream gradient zero-padded and
        # convolved with the flipped filters (STYLE.md's chapter-6 item 3).
        self.input_gradient = "col2im"
        self._buf = _Buffers()
        self.initialized = False
        if rng is not None:
            self.initialize(rng)

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw w, then b, from ``rng`` (in float64, then rounded to the dtype)."""
        self.initialized = True
        F, C, fh, fw = self.filter_shape
        ph, pw = self.poolsize
        n = F * fh * fw / (ph * pw) if self.init == "book" else C * fh * fw  # network3's n_out (sic)
        self.w[...] = rng.normal(0.0, np.sqrt(1.0 / n), size=self.filter_shape)
        self.b[...] = rng.normal(0.0, 1.0, size=F)

    def params(self) -> list[Array]:
        return [self.w, self.b]

    def grads(self) -> list[Array]:
        return [self.nabla_w, self.nabla_b]

    # ------------------------------------------------------------------ buffers
    def _backward_bytes_per_example(self) -> int:
        """Bytes per example of the im2col matrix and its gradient (the col2im's input), the
        working set that the Network's chunking keeps in cache."""
        F, C, fh, fw = self.filter_shape
        ph, pw = self.poolsize
        return 2 * ph * pw * self.pooled_shape[0] * self.pooled_shape[1] * fh * fw * C * self.dtype.itemsize

    def _make(self, m: int) -> dict:
        C, H, W = self.image_shape
        F, _, fh, fw = self.filter_shape
        ph, pw = self.poolsize
        PH, PW = self.pooled_shape
        P, N = ph * pw, m * PH * PW
        dt = self.dtype
        return {
            "x": np.empty((m, H, W, C), dt) if self.input_book_order and C > 1 else None,
            # im2col rows ordered (pool offset, example, pooled row, pooled column), columns
            # (filter row, filter column, channel): the outputs that one pooling block
            # compares lie N rows apart, and each window row is a contiguous run of memory.
            "cols": np.empty((ph, pw, m, PH, PW, fh, fw, C), dt),
            "idx": (_windows(np.arange(m * H * W * C).reshape(m, H, W, C), fh, fw, ph, pw, PH, PW).reshape(-1)
                    if fw * C < GATHER_BELOW else None),
            "conv": np.empty((P, N, F), dt),  # w * x at every pooled position      (P, N, F)
            "a": np.empty((N, F), dt),  # a = f(maxpool + b), channel-last          (N, F)
            "m2": np.empty((N, F), dt),
            # which input of each block won: 2x2 pools keep three comparisons, others an index
            "gt": [np.empty((N, F), bool) for _ in range(3)] if (ph, pw) == (2, 2) else np.empty((N, F), bool),
            "arg": None if (ph, pw) == (2, 2) else np.zeros((N, F), np.int16),
            "out": np.empty((m, F, PH, PW), dt) if self.output_book_order else None,
        }

    def _make_backward(self, m: int, bf: dict) -> None:
        C, H, W = self.image_shape
        F, _, fh, fw = self.filter_shape
        ph, pw = self.poolsize
        PH, PW = self.pooled_shape
        P, N = ph * pw, m * PH * PW
        OH, OW = self.conv_shape
        dt = self.dtype
        bf.update({
            "delta": np.empty((N, F), dt),
            "tmp": np.empty((N, F), dt),
            "eq": np.empty((N, F), bool),
            "dconv": np.empty((P, N, F), dt),
            "ones": np.ones(N, dt),
            "nw": np.empty((F, fh, fw, C), dt),  # dC/dw of the correlation kernel (flipped w)
            "dx": np.empty((m * H * W, C), dt),
            "dx_book": np.empty((m, C, H, W), dt) if self.input_book_order and C > 1 else None,
        })

    # ------------------------------------------------------------------ forward
    def forward(self, x: Array, train: bool = True) -> Array:
        """a = f(maxpool(conv(x, w)) + b) for a mini-batch.

        x : (m, channels * height * width) in the book's order (``input_book_order``), or
            the previous conv layer's output rows (m * height * width, channels).
        Returns (m, n_filters * PH * PW) in the book's order if ``output_book_order``, else
        rows (m * PH * PW, n_filters). The returned array is a buffer reused by the next call.
        """
        C, H, W = self.image_shape
        F, _, fh, fw = self.filter_shape
        ph, pw = self.poolsize
        PH, PW = self.pooled_shape
        m = x.shape[0] if self.input_book_order else x.shape[0] // (H * W)
        bf = self._buf.get(m, self._make)
        if bf["x"] is not None:  # (m, C, H, W) -> channel-last (m, H, W, C)
            np.copyto(bf["x"], x.reshape(m, C, H, W).transpose(0, 2, 3, 1))
            x4 = bf["x"]
        else:
            x4 = x.reshape(m, H, W, C)
        # im2col: every fh x fw window of every example, one row each                    (P*N, fh*fw*C)
        if bf["idx"] is not None:
            np.take(x4.reshape(-1), bf["idx"], out=bf["cols"].reshape(-1), mode="clip")  # (no index clips)
        else:
            np.copyto(bf["cols"], _windows(x4, fh, fw, ph, pw, PH, PW))
        P = ph * pw
        cols = bf["cols"].reshape(-1, fh * fw * C)
        conv = bf["conv"]
        w_corr = self.w[:, :, ::-1, ::-1].transpose(0, 2, 3, 1).reshape(F, -1)  # flipped: a true convolution
        self._w_corr = w_corr  # (a copy; backward's col2im uses it)
        np.matmul(cols, w_corr.T, out=conv.reshape(-1, F))  # z_conv = w * x, one GEMM              (P*N, F)
        a = bf["a"]
        if P == 4 and (ph, pw) == (2, 2):  # max-pooling 2x2: three comparisons, kept for backward
            g01, g23, g = bf["gt"]
            m2 = bf["m2"]
            np.maximum(conv[0], conv[1], out=a)  # top row of each block
            np.maximum(conv[2], conv[3], out=m2)  # bottom row
            if train:
                np.greater(conv[1], conv[0], out=g01)  # ties keep the earlier input (row-major first)
                np.greater(conv[3], conv[2], out=g23)
                np.greater(m2, a, out=g)
            np.maximum(a, m2, out=a)
        elif P > 1:  # any other pool: a running maximum and the index of the winner
            np.copyto(a, conv[0])
            arg, gt = bf["arg"], bf["gt"]
            arg.fill(0)
            for k in range(1, P):  # a loop over the pool's offsets, not over positions
                np.greater(conv[k], a, out=gt)  # ties keep the earlier offset (row-major first)
                np.maximum(a, conv[k], out=a)
                np.copyto(arg, k, where=gt)
        else:
            np.copyto(a, conv[0])
        a += self.b  # the bias after pooling (network3's order)                                 (N, F)
        _activate(self.activation, a, a)  # a = f(maxpool(conv) + b)
        self._m = m
        if self.output_book_order:  # (m, PH, PW, F) -> the book's (m, F, PH, PW), flattened
            np.copyto(bf["out"], a.reshape(m, PH, PW, F).transpose(0, 3, 1, 2))
            return bf["out"].reshape(m, -1)
        return a

    # ------------------------------------------------------------------ backward
    def backward(self, da: Array, need_dx: bool = True, update: float | None = None) -> Array | None:
        """Gradients from dC/da of the output (shaped as ``forward`` returned it).

        Sets ``nabla_b`` (BP3 summed over every position of each filter's map: the bias is
        shared), ``nabla_w`` (BP4 summed over every position: the weights are shared) and
        returns dC/dx shaped as the input ``forward`` took (None without ``need_dx``).
        The gradient of max-pooling goes to ONE input of each block, the one ``forward``
        picked (ties: the first in row-major order), as the derivative of a maximum
        whose arguments are distinct.

        ``update`` (the training step's L2 shrink factor, 1 without L2): also take the SGD
        step in place once dC/dx is computed with the old weights,
        w -> update * w - nabla_w, b -> b - nabla_b (da came in already multiplied by eta).
        """
        C, H, W = self.image_shape
        F, _, fh, fw = self.filter_shape
        ph, pw = self.poolsize
        PH, PW = self.pooled_shape
        m = self._m
        bf = self._buf[m]
        if "delta" not in bf:
            self._make_backward(m, bf)
        P = ph * pw
        delta, a = bf["delta"], bf["a"]
        if self.output_book_order:
            if da.strides[0] < da.strides[1]:  # a Fortran-ordered dC/da (a fully connected layer's dx)
                np.copyto(delta.reshape(m, PH, PW, F), da.T.reshape(F, PH, PW, m).transpose(3, 1, 2, 0))
            else:
                np.copyto(delta.reshape(m, PH, PW, F), da.reshape(m, F, PH, PW).transpose(0, 2, 3, 1))
        else:
            np.copyto(delta, da)
        _times_prime(self.activation, a, delta, bf["tmp"])  # BP2's (.) f'(z): delta = dC/dz            (N, F)
        np.matmul(bf["ones"], delta, out=self.nabla_b)  # BP3, summed over every position            (F,)
        dconv = bf["dconv"]  # dC/d(conv output): delta at each block's winner, 0 elsewhere          (P, N, F)
        if P == 4 and (ph, pw) == (2, 2):
            g01, g23, g = bf["gt"]
            np.multiply(delta, g, out=dconv[2])  # the bottom row won: its share
            np.subtract(delta, dconv[2], out=dconv[0])  # the top row's share (exact: delta or 0)
            np.multiply(dconv[0], g01, out=dconv[1])
            np.subtract(dconv[0], dconv[1], out=dconv[0])
            np.multiply(dconv[2], g23, out=dconv[3])
            np.subtract(dconv[2], dconv[3], out=dconv[2])
        elif P > 1:
            for k in range(P):
                np.equal(bf["arg"], k, out=bf["eq"])
                np.multiply(delta, bf["eq"], out=dconv[k])
        else:
            np.copyto(dconv[0], delta)
        cols = bf["cols"].reshape(-1, fh * fw * C)
        g = dconv.reshape(-1, F)
        # BP4 with shared weights: dC/dw = the sum over every position of x_window * delta    (F, fh*fw*C)
        np.matmul(g.T, cols, out=bf["nw"].reshape(F, -1))  # with respect to the correlation kernel
        self.nabla_w = bf["nw"].transpose(0, 3, 1, 2)[:, :, ::-1, ::-1]  # a view: the book's w (flipped back)
        if not need_dx:
            if update is not None:
                _step(self, update)
            return None
        dx = bf["dx"]
        if self.input_gradient == "padded":
            # dC/dx: a "full" convolution, i.e. the upstream gradient zero-padded by (fh-1, fw-1)
            # and correlated with the book's w (the correlation kernel flipped back):
            # dx[n, y, x, c] = sum_{p, q, f} gpad[n, y + p, x + q, f] w[f, c, p, q].
            if "gpad" not in bf:
                OH, OW = self.conv_shape
                bf["gpad"] = np.zeros((m, OH + 2 * (fh - 1), OW + 2 * (fw - 1), F), self.dtype)
                bf["cols2"] = np.empty((m, H, W, fh, fw, F), self.dtype)
            gpad = bf["gpad"]
            inner = gpad[:, fh - 1: fh - 1 + PH * ph, fw - 1: fw - 1 + PW * pw]  # rows/cols pooling ignored stay 0
            np.copyto(inner.reshape(m, PH, ph, PW, pw, F).transpose(2, 4, 0, 1, 3, 5),
                      dconv.reshape(ph, pw, m, PH, PW, F))
            np.copyto(bf["cols2"], sliding_window_view(gpad, (fh, fw), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3))
            w_full = self.w.transpose(1, 2, 3, 0).reshape(C, -1)  # (C, fh*fw*F)
            np.matmul(bf["cols2"].reshape(m * H * W, -1), w_full.T, out=dx)  # BP2 through the conv (m*H*W, C)
        else:
            # The same numbers by "col2im": GEMMs give dC/d(every entry of every window),
            # dcols = delta_conv . w_corr (the forward's kernel matrix), one filter row p at a
            # time; each window entry (p, q) then adds its share to dx at (row + p, column + q):
            # fh*fw slice additions (``_col2im_gemm``). Nothing is spent on the zero padding:
            # fewer multiplications (12.8 M instead of 28.8 M for ch6-conv2's second layer at
            # mini-batch 10) and no large padded im2col copy. delta_conv is first put in the
            # positions' natural order (one small copy), then in residue order, so that the
            # additions run over contiguous stretches (measured: about 3x faster than adding in
            # the pooling order; one GEMM per filter row 7 % faster than one GEMM and strided
            # additions, at ch6-conv2's second layer, mini-batch 5 and 10).
            if "col2im" not in bf:
                bf["dnat"] = np.empty((m, PH * ph, PW * pw, F), self.dtype)
                bf["col2im"] = _col2im_plan(bf["dnat"], dx.reshape(m, H, W, C), fh, fw)
            dnat = bf["dnat"]  # delta_conv in the positions' natural order (example, row, column)
            np.copyto(dnat.reshape(m, PH, ph, PW, pw, F),
                      dconv.reshape(ph, pw, m, PH, PW, F).transpose(2, 3, 0, 4, 1, 5))
            _col2im_gemm(dx.reshape(m, H, W, C), self._w_corr, bf["col2im"])  # BP2 through the conv  (m*H*W, C)
        if update is not None:
            _step(self, update)
        if bf["dx_book"] is not None:
            np.copyto(bf["dx_book"], dx.reshape(m, H, W, C).transpose(0, 3, 1, 2))
            return bf["dx_book"].reshape(m, -1)
        return dx.reshape(m, -1) if self.input_book_order else dx

    def __repr__(self) -> str:
        return (f"ConvPoolLayer(image_shape={self.image_shape}, filter_shape={self.filter_shape}, "
                f"poolsize={self.poolsize}, activation_fn={self.activation})")


class FullyConnectedLayer:
    """A fully connected layer: a = f(x . w + b), with dropout on its inputs (network3).

    Parameters
    ----------
    n_in, n_out : int
    activation_fn : sigmoid (default), tanh, ReLU or linear
    p_dropout : float in [0, 1), default 0
        Training: each INPUT of the layer is kept with probability 1 - p_dropout (a 0/1
        mask, no rescaling), ``x_drop = x * mask``. Test time: z = (1 - p_dropout) x . w + b.
    rng, dtype, init : as for ``ConvPoolLayer``; "book" draws w ~ N(0, 1/n_out) (sic,
        network3 scales by n_out, not n_in) and b ~ N(0, 1); "n_in" is nndl's N(0, 1/n_in).

    ``w`` has network3's orientation (n_in, n_out): z = x . w + b for rows x (m, n_in).
    """

    kind = "fc"

    def __init__(self, n_in: int, n_out: int, activation_fn=Sigmoid, p_dropout: float = 0.0, *,
                 rng: np.random.Generator | None = None, dtype=np.float32, init: str = "book") -> None:
        self.n_in, self.n_out = _positive_ints((n_in, n_out), 2, "n_in, n_out")
        _check_layer_size(f"{type(self).__name__}({self.n_in}, {self.n_out})", self.n_in * self.n_out + self.n_out,
                          max(self.n_in, self.n_out), "inputs or outputs")
        self.p_dropout = check_p_dropout(p_dropout)
        self.activation = activation_name(activation_fn)
        if init not in INITS3:
            raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS3)}")
        self.init = init
        self.dtype = _dtype(dtype)
        self.w = np.zeros((self.n_in, self.n_out), dtype=self.dtype)
        self.b = np.zeros(self.n_out, dtype=self.dtype)
        self.nabla_w = np.zeros_like(self.w)
        self.nabla_b = np.zeros_like(self.b)
        self.mask: Array | None = None  # the training mask of the current mini-batch (m, n_in)
        self._buf = _Buffers()
        self.initialized = False
        if rng is not None:
            self.initialize(rng)

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw w, then b, from ``rng`` (in float64, then rounded to the dtype)."""
        self.initialized = True
        n = self.n_out if self.init == "book" else self.n_in
        self.w[...] = rng.normal(0.0, np.sqrt(1.0 / n), size=(self.n_in, self.n_out))
        self.b[...] = rng.normal(0.0, 1.0, size=self.n_out)

    def params(self) -> list[Array]:
        return [self.w, self.b]

    def grads(self) -> list[Array]:
        return [self.nabla_w, self.nabla_b]

    def _make(self, m: int) -> dict:
        dt = self.dtype
        return {"xd": np.empty((m, self.n_in), dt), "z": np.empty((m, self.n_out), dt),
                "tmp": np.empty((m, self.n_out), dt), "delta": np.empty((m, self.n_out), dt),
                "dx": np.empty((m, self.n_in), dt, order="F" if m <= DX_FORTRAN_MAX else "C"),  # _backward_delta
                "ones": np.ones(m, dt), "blas": _blas.get_blas_funcs(("gemm", "gemv"), dtype=dt)}

    def _z(self, x: Array, train: bool, bf: dict) -> Array:
        z = bf["z"]
        if train and self.p_dropout:
            if self.mask is None or self.mask.shape != x.shape:
                raise ValueError(f"dropout needs a mask of shape {x.shape}; the Network draws one per mini-batch")
            np.multiply(x, self.mask, out=bf["xd"])  # dropout on the inputs: x_drop = x * mask
            x = bf["xd"]
        self._x = x
        np.matmul(x, self.w, out=z)  # z = x . w + b                                          (m, n_out)
        if not train and self.p_dropout:
            z *= 1.0 - self.p_dropout  # test time: (1 - p_dropout) x . w + b
        z += self.b
        return z

    def forward(self, x: Array, train: bool = True) -> Array:
        """a = f(x . w + b): x (m, n_in) -> (m, n_out) (a buffer reused by the next call)."""
        bf = self._buf.get(x.shape[0], self._make)
        z = self._z(x, train, bf)
        _activate(self.activation, z, z)
        self._a = z
        return z

    def backward(self, da: Array, need_dx: bool = True, update: float | None = None,
                 grads: bool = True) -> Array | None:
        """From dC/da (m, n_out): nabla_w = x_drop^T delta (BP4), nabla_b (BP3), dC/dx (BP2).

        ``update``: also take the SGD step in place, as ``ConvPoolLayer.backward`` says.
        ``grads=False``: only delta and dC/dx (the Network's threads leave BP3/BP4 to
        ``weight_grads`` on the whole mini-batch's x and delta).
        """
        bf = self._buf[len(da)]
        delta = bf["delta"]
        np.copyto(delta, da)
        _times_prime(self.activation, self._a, delta, bf["tmp"])  # BP2's (.) f'(z): delta = dC/dz   (m, n_out)
        return self._backward_delta(delta, need_dx, bf, update, grads)

    def _backward_delta(self, delta: Array, need_dx: bool, bf: dict, update: float | None = None,
                        grads: bool = True) -> Array | None:
        dx = None
        gemm = bf["blas"][0]
        if need_dx:  # first, while w is still the old w
            dx = bf["dx"]
            # BP2: (w delta), before the previous layer's f'                                      (m, n_in)
            # small m: as dx = delta w^T into a Fortran-ordered dx (BLAS's own order; measured
            # 20-27 % faster than dx^T = w delta^T into a C-ordered dx, and that 25-35 % faster
            # than delta @ w.T: ch6-conv1's 2880 x 100 layer at mini-batch 10, 119 / 148 us);
            # large m: C-ordered (see DX_FORTRAN_MAX)
            if dx.flags.f_contiguous:
                gemm(1.0, delta.T, self.w.T, 0.0, dx, 1, 0, 1)
            else:
                gemm(1.0, self.w.T, delta.T, 0.0, dx.T, 1, 0, 1)
            if self.p_dropout and self.mask is not None and self._x is bf["xd"]:
                dx *= self.mask  # a dropped input received no gradient
        if grads:
            self.weight_grads(self._x, delta, update, bf)
        return dx

    def weight_grads(self, x: Array, delta: Array, update: float | None = None, bf: dict | None = None,
                     rows: slice = slice(None), bias: bool = True) -> None:
        """BP3 and BP4 from the inputs as used x (m, n_in) (after dropout) and delta (m, n_out):
        into ``nabla_w``, ``nabla_b``, or with ``update`` the SGD step taken in place.

        ``rows``: only these rows of w (inputs), ``bias``: whether b too (the Network's threads
        share the step out this way)."""
        if bf is None:
            bf = self._buf.get(len(delta), self._make)
        gemm, gemv = bf["blas"]
        w, x = self.w[rows], x[:, rows]
        if update is None:
            np.matmul(x.T, delta, out=self.nabla_w[rows])  # BP4: dC/dw_jk = sum_x x_j delta_k   (n_in, n_out)
            if bias:
                np.matmul(bf["ones"][: len(delta)], delta, out=self.nabla_b)  # BP3              (n_out,)
        else:
            # The step without materialising nabla_w: one gemm on the transposed (Fortran-
            # ordered) views, w^T <- w^T - delta^T x (BP4), and one gemv, b <- b - delta^T 1
            # (BP3 and eq. (94)). The L2 shrink of eq. (93) first, on its own: OpenBLAS's gemm
            # with beta != 1 was measured 2x slower than with beta = 1 at these shapes.
            if update != 1.0:
                w *= update
            gemm(-1.0, delta.T, x.T, 1.0, w.T, 0, 1, 1)  # (w a block of whole rows: w.T stays Fortran-ordered)
            if bias:
                gemv(-1.0, delta.T, bf["ones"][: len(delta)], 1.0, self.b, 0, 1, 0, 1, 0, 1)

    def __repr__(self) -> str:
        return (f"FullyConnectedLayer(n_in={self.n_in}, n_out={self.n_out}, activation_fn={self.activation}, "
                f"p_dropout={self.p_dropout})")


class SoftmaxLayer(FullyConnectedLayer):
    """The softmax output layer with the log-likelihood cost (network3's ``SoftmaxLayer``).

    a = softmax(x . w + b), eq. (78); w and b start at zero (network3). The cost of a
    mini-batch is the MEAN over its examples of -ln a_y, eq. (80), and the output error
    is delta = (a - y) / m, eq. (84) divided by the mini-batch size. Dropout on the
    inputs as in ``FullyConnectedLayer``.
    """

    kind = "softmax"

    def __init__(self, n_in: int, n_out: int, p_dropout: float = 0.0, *,
                 rng: np.random.Generator | None = None, dtype=np.float32, init: str = "book") -> None:
        super().__init__(n_in, n_out, Linear, p_dropout, rng=None, dtype=dtype, init=init)
        self.activation = "softmax"
        if self.n_out < 2:
            raise ValueError("a softmax layer needs at least 2 outputs")

    def initialize(self, rng: np.random.Generator) -> None:
        """Zeros (network3's SoftmaxLayer); ``rng`` is not used."""
        self.initialized = True
        self.w[...] = 0.0  # network3: SoftmaxLayer starts from zero weights and biases
        self.b[...] = 0.0

    def logits(self, x: Array, train: bool = True) -> Array:
        """z = x . w + b (m, n_out), the softmax's input (a buffer reused by the next call)."""
        bf = self._buf.get(x.shape[0], self._make)
        return self._z(x, train, bf)

    def forward(self, x: Array, train: bool = True) -> Array:
        """a = softmax(x . w + b), eq. (78): (m, n_in) -> (m, n_out), rows summing to 1."""
        z = self.logits(x, train)
        z -= z.max(axis=1, keepdims=True)  # the shift that keeps e^z finite
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        self._a = z
        return z

    def forward_cost(self, x: Array, y: NDArray[np.integer], train: bool = True) -> tuple[Array, float]:
        """``forward`` and the SUM over the batch of -ln a_y (eq. 80), from the shifted z (stable)."""
        z = self.logits(x, train)
        z -= z.max(axis=1, keepdims=True)
        zy = z[np.arange(len(y)), y]  # z_y - max z                                             (m,)
        np.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        z /= s
        self._a = z
        return z, float(np.sum(np.log(s[:, 0]) - zy))  # -ln a_y = ln sum e^(z - max) - (z_y - max)

    def backward_labels(self, y: NDArray[np.integer], need_dx: bool = True, scale: float = 1.0,
                        update: float | None = None, grads: bool = True, m: int | None = None) -> Array | None:
        """Backward from the cost itself: delta = (a - y) / m (eq. 84, mean over the batch).

        ``scale`` multiplies delta (the training step passes eta, so that every gradient
        below comes out already multiplied by eta: one multiplication instead of one per
        parameter). Overwrites the softmax output of the last ``forward``. ``update``: also
        take the SGD step in place, as ``ConvPoolLayer.backward`` says. ``grads`` as in
        ``FullyConnectedLayer.backward``; ``m``: the mini-batch's size when y is a part of it.
        """
        bf = self._buf[len(y)]
        delta = self._a  # (m, n_out), reused in place: a - y
        delta[np.arange(len(y)), y] -= 1.0  # eq. (84): delta^L = a^L - y
        delta *= scale / (m or len(y))  # the mean over the mini-batch
        return self._backward_delta(delta, need_dx, bf, update, grads)

    def backward(self, da: Array, need_dx: bool = True, update: float | None = None) -> Array | None:
        """From dC/da (m, n_out) through the softmax's Jacobian, eq. (33): delta_j = a_j (g_j - a . g)."""
        a = self._a
        delta = a * (da - np.sum(a * da, axis=1, keepdims=True))
        return self._backward_delta(delta, need_dx, self._buf[len(da)], update)

    @staticmethod
    def cost(z: Array, y: NDArray[np.integer]) -> float:
        """Mean over the batch of -ln softmax(z)_y, eq. (80), from z (stable)."""
        return float(-np.mean(_log_softmax(z)[np.arange(len(y)), y]))

    def __repr__(self) -> str:
        return f"SoftmaxLayer(n_in={self.n_in}, n_out={self.n_out}, p_dropout={self.p_dropout})"
