/* nndl run report: the draw-a-digit canvas, the network in JavaScript, maths by KaTeX.
 *
 * Everything here computes what nndl's Python computes, and tests/test_report_browser.py
 * checks it in Chromium: mnistInput() against nndl.images.digit_input (1/255 per pixel),
 * forward() against Network.feedforward and deltas() against Network.deltas (1e-6).
 * Index conventions follow nndl.network: weights[l] is the book's w^{l+2}, shape
 * (n_out, n_in) stored row-major, so z_j = sum_k w_jk a_k + b_j.
 */
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("nndl-data").textContent);

  // ------------------------------------------------------------------ maths typesetting
  function renderMath(root) {
    for (const el of root.querySelectorAll("span.math:not([data-done])")) {
      katex.render(el.textContent, el, {
        displayMode: el.classList.contains("display"), throwOnError: false, output: "html",
      });
      el.setAttribute("data-done", "");
    }
  }

  // ------------------------------------------------------------------ the network
  function decodeF32(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return Float64Array.from(new Float32Array(bytes.buffer));  // little-endian float32 -> float64
  }

  const sigmoid = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
  const HIDDEN = {  // f(z) and f'(z) from a = f(z), as nndl.activations
    sigmoid: { fn: sigmoid, primeFromA: (a) => a * (1 - a) },
    tanh: { fn: Math.tanh, primeFromA: (a) => 1 - a * a },
    relu: { fn: (z) => (z > 0 ? z : 0), primeFromA: (a) => (a > 0 ? 1 : 0) },
  };

  /* A chapter-3 network (nndl.Network) from the page's data: N = {sizes, cost, hidden,
     output, dropout, weights, biases} with weights and biases as base64 float32. */
  function chapter3Network(N) {
    const W = N.weights.map(decodeF32);
    const B = N.biases.map(decodeF32);
    /* Weighted inputs and activations of every layer for one input x (eq. 25):
       zs[l] = z^{l+2}, as[0] = x, as[l+1] = f(zs[l]); hidden activations scaled by 1 - dropout
       (the test-time rule of nndl.Network.forward_pass). */
    function forward(x) {
      const zs = [], as = [Float64Array.from(x)];
      const last = W.length - 1;
      let a = as[0];
      for (let l = 0; l < W.length; l++) {
        const nOut = B[l].length, nIn = a.length, w = W[l];
        const z = new Float64Array(nOut);
        for (let j = 0; j < nOut; j++) {
          let s = 0;
          const row = j * nIn;
          for (let k = 0; k < nIn; k++) s += w[row + k] * a[k];
          z[j] = s + B[l][j];  // eq. (25): z^l = w^l a^{l-1} + b^l
        }
        let next = new Float64Array(nOut);
        if (l === last) {
          if (N.output === "softmax") {  // eq. (78)
            const m = Math.max(...z);
            let sum = 0;
            for (let j = 0; j < nOut; j++) { next[j] = Math.exp(z[j] - m); sum += next[j]; }
            for (let j = 0; j < nOut; j++) next[j] /= sum;
          } else {
            for (let j = 0; j < nOut; j++) next[j] = sigmoid(z[j]);
          }
        } else {
          const f = HIDDEN[N.hidden].fn, scale = 1 - N.dropout;
          for (let j = 0; j < nOut; j++) next[j] = f(z[j]) * scale;
        }
        zs.push(z);
        as.push(next);
        a = next;
      }
      return { zs, as };
    }

    /* delta^l = dC_x/dz^l of every layer for the target `label` (nndl.Network.deltas):
       BP1 for the output layer with the network's cost, then BP2 layer by layer.
       Returns a list parallel to the weights: deltas[l] is the error of layer l+2. */
    function deltas(pass, label) {
      const { zs, as } = pass;
      const L = W.length - 1;
      const a = as[L + 1], n = a.length;
      const y = new Float64Array(n);
      y[label] = 1;
      let d = new Float64Array(n);
      if (N.output === "sigmoid") {
        for (let j = 0; j < n; j++) {
          const s = a[j] * sigmoid(-zs[L][j]);  // sigma'(z) = sigma(z) sigma(-z)
          if (N.cost === "cross-entropy") d[j] = a[j] - y[j];  // BP1 with eq. (66)
          else if (N.cost === "quadratic") d[j] = (a[j] - y[j]) * s;  // BP1, eq. (30)
          else d[j] = -y[j] * sigmoid(-zs[L][j]);  // log-likelihood of a sigmoid output
        }
      } else if (N.cost === "log-likelihood") {
        for (let j = 0; j < n; j++) d[j] = a[j] - y[j];  // BP1 with eq. (84)
      } else {  // softmax output: delta_j = a_j (g_j - sum_k a_k g_k), g = nabla_a C (eq. 33)
        const g = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          g[j] = N.cost === "quadratic" ? a[j] - y[j] : (a[j] - y[j]) / (a[j] * (1 - a[j]));
        }
        let ag = 0;
        for (let j = 0; j < n; j++) ag += a[j] * g[j];
        for (let j = 0; j < n; j++) d[j] = a[j] * (g[j] - ag);
      }
      const out = [d];
      const prime = HIDDEN[N.hidden].primeFromA, s = 1 - N.dropout;
      for (let l = L; l >= 1; l--) {  // BP2: delta^l = ((w^{l+1})^T delta^{l+1}) (.) f'(z^l)
        const h = as[l], nIn = h.length, w = W[l];
        const next = new Float64Array(nIn);
        for (let j = 0; j < d.length; j++) {
          const row = j * nIn, dj = d[j];
          for (let k = 0; k < nIn; k++) next[k] += w[row + k] * dj;
        }
        for (let k = 0; k < nIn; k++) next[k] *= prime(h[k] / s) * s;
        d = next;
        out.unshift(d);
      }
      return out;
    }
    return { W, B, forward, deltas };
  }

  /* A chapter-6 network of layers (nndl.network3.Network) from the page's data:
     N.layers = [{type, activation, n_in, n_out, p_dropout, w, b, and for a ConvPoolLayer
     image_shape [C, H, W], filter_shape [F, C, fh, fw], poolsize [ph, pw]}], w and b base64
     float32 in the book's shapes, row-major (nndl.report.layered_network).
     Every layer's input and output is flattened in the book's (channel, row, column) order. */
  const ACT6 = { sigmoid, tanh: Math.tanh, relu: (z) => (z > 0 ? z : 0), linear: (z) => z };
  const PRIME6 = {  // f'(z) from a = f(z), as nndl.layers._times_prime
    sigmoid: (a) => a * (1 - a), tanh: (a) => 1 - a * a, relu: (a) => (a > 0 ? 1 : 0), linear: () => 1,
  };
  function chapter6Network(N) {
    const layers = N.layers.map((d) => Object.assign({}, d, { W: decodeF32(d.w), B: decodeF32(d.b) }));

    /* nndl.layers.ConvPoolLayer.forward for one example: a = f(maxpool(conv(x, w)) + b), the
       bias and activation after pooling (network3's order). A true convolution, as Theano's
       conv2d: conv[f, i, j] = sum_{c,p,q} x[c, i+p, j+q] w[f, c, fh-1-p, fw-1-q]; only the rows
       and columns that fill a pooling block are computed (the others are ignored, as
       ignore_border=True). win[f, I, J]: the position in conv of the block's maximum, the
       first in row-major order on ties (nndl's rule); BP2 through the pooling uses it. */
    function convPool(L, x) {
      const [C, H, Wd] = L.image_shape, [F, , fh, fw] = L.filter_shape, [ph, pw] = L.poolsize;
      const PH = Math.floor((H - fh + 1) / ph), PW = Math.floor((Wd - fw + 1) / pw);
      const CH = PH * ph, CW = PW * pw, w = L.W;
      const conv = new Float64Array(F * CH * CW);
      for (let f = 0; f < F; f++) {
        for (let i = 0; i < CH; i++) {
          for (let j = 0; j < CW; j++) {
            let s = 0;
            for (let c = 0; c < C; c++) {
              for (let p = 0; p < fh; p++) {
                const xrow = (c * H + i + p) * Wd + j, wrow = ((f * C + c) * fh + fh - 1 - p) * fw + fw - 1;
                for (let q = 0; q < fw; q++) s += x[xrow + q] * w[wrow - q];
              }
            }
            conv[(f * CH + i) * CW + j] = s;
          }
        }
      }
      const z = new Float64Array(F * PH * PW), win = new Int32Array(F * PH * PW);
      for (let f = 0; f < F; f++) {
        for (let I = 0; I < PH; I++) {
          for (let J = 0; J < PW; J++) {
            let best = -Infinity, at = 0;
            for (let p = 0; p < ph; p++) {
              for (let q = 0; q < pw; q++) {
                const k = (f * CH + I * ph + p) * CW + J * pw + q;
                if (conv[k] > best) { best = conv[k]; at = k; }  // strictly greater: ties keep the first
              }
            }
            const o = (f * PH + I) * PW + J;
            z[o] = best + L.B[f];  // the bias after pooling
            win[o] = at;
          }
        }
      }
      return { z, win, shape: [F, PH, PW], convShape: [F, CH, CW] };
    }

    /* nndl.layers.FullyConnectedLayer / SoftmaxLayer at test time (network3's inpt):
       z_k = (1 - p_dropout) sum_j x_j w_jk + b_k, w of shape (n_in, n_out). */
    function dense(L, x) {
      const nIn = L.n_in, nOut = L.n_out, w = L.W, scale = 1 - L.p_dropout;
      const z = new Float64Array(nOut);
      for (let k = 0; k < nOut; k++) {
        let s = 0;
        for (let j = 0; j < nIn; j++) s += x[j] * w[j * nOut + k];
        z[k] = s * scale + L.B[k];
      }
      return { z };
    }

    /* Every layer for one input x (n_in, the book's order): as[0] = x, as[l+1] = the output
       of layers[l]; zs[l] its weighted input (a ConvPoolLayer's after pooling and bias);
       pools[l] the ConvPoolLayer's winners (null for the other layers). */
    function forward(x) {
      const zs = [], as = [Float64Array.from(x)], pools = [];
      let a = as[0];
      for (const L of layers) {
        const r = L.type === "ConvPoolLayer" ? convPool(L, a) : dense(L, a);
        const z = r.z, next = new Float64Array(z.length);
        if (L.type === "SoftmaxLayer") {  // eq. (78)
          const m = Math.max(...z);
          let sum = 0;
          for (let j = 0; j < z.length; j++) { next[j] = Math.exp(z[j] - m); sum += next[j]; }
          for (let j = 0; j < z.length; j++) next[j] /= sum;
        } else {
          const f = ACT6[L.activation];
          for (let j = 0; j < z.length; j++) next[j] = f(z[j]);
        }
        zs.push(z);
        as.push(next);
        pools.push(L.type === "ConvPoolLayer" ? r : null);
        a = next;
      }
      return { zs, as, pools };
    }

    /* dC/dx of layer l's input (= dC/da of layer l-1's output) from its delta: BP2's
       (w^{l+1})^T delta^{l+1}, as nndl.layers' backward computes it.
       Dense: (1 - p_dropout) w delta (the test-time network's input scaling).
       ConvPool: each pooled unit's delta goes to the one conv output that won its block
       (the pooling rule: the derivative of a maximum), and from conv output (f, i, j) to
       every input it read: dC/dx[c, i+p, j+q] += delta w[f, c, fh-1-p, fw-1-q] (the
       convolution's rule: the gradient of a valid convolution is a full one). */
    function inputGradient(L, pass, l, d) {
      const g = new Float64Array(L.n_in), w = L.W;
      if (L.type === "ConvPoolLayer") {
        const [C, H, Wd] = L.image_shape, [F, , fh, fw] = L.filter_shape;
        const { win, convShape } = pass.pools[l], CH = convShape[1], CW = convShape[2];
        for (let o = 0; o < d.length; o++) {
          const dd = d[o];
          if (dd === 0) continue;
          const k = win[o], f = Math.floor(k / (CH * CW)), i = Math.floor((k % (CH * CW)) / CW), j = k % CW;
          for (let c = 0; c < C; c++) {
            for (let p = 0; p < fh; p++) {
              const grow = (c * H + i + p) * Wd + j, wrow = ((f * C + c) * fh + fh - 1 - p) * fw + fw - 1;
              for (let q = 0; q < fw; q++) g[grow + q] += dd * w[wrow - q];
            }
          }
        }
      } else {
        const nOut = L.n_out, scale = 1 - L.p_dropout;
        for (let j = 0; j < L.n_in; j++) {
          let s = 0;
          const row = j * nOut;
          for (let k = 0; k < nOut; k++) s += w[row + k] * d[k];
          g[j] = s * scale;
        }
      }
      return g;
    }

    /* delta^l = dC_x/dz^l of every layer for the target `label`, one example, as network3
       backpropagates: BP1 for the softmax layer with the log-likelihood cost, eq. (84),
       delta^L = a^L - y; then BP2 layer by layer, delta^l = (dC/da^l) (.) f'(z^l) with dC/da^l
       from inputGradient. deltas[l] is the error of layers[l] (a ConvPoolLayer's: of its
       pooled units, shaped like its output). */
    function deltas(pass, label) {
      const L = layers.length - 1, a = pass.as[L + 1];
      let d = new Float64Array(a.length);
      for (let j = 0; j < a.length; j++) d[j] = a[j] - (j === label ? 1 : 0);  // BP1, eq. (84)
      const out = [d];
      for (let l = L; l >= 1; l--) {
        const g = inputGradient(layers[l], pass, l, d), h = pass.as[l], prime = PRIME6[layers[l - 1].activation];
        d = new Float64Array(g.length);
        for (let k = 0; k < g.length; k++) d[k] = g[k] * prime(h[k]);  // BP2's (.) f'(z^l)
        out.unshift(d);
      }
      return out;
    }
    return { layers, forward, deltas };
  }

  const NET = DATA.network;
  const chapter3 = NET.kind === "chapter3";
  const layered = NET.kind === "chapter6";
  const MODEL = chapter3 ? chapter3Network(NET) : layered ? chapter6Network(NET) : null;
  const W = chapter3 ? MODEL.W : [];
  const B = chapter3 ? MODEL.B : [];
  const forward = MODEL ? MODEL.forward : null;
  const deltas = MODEL ? MODEL.deltas : null;

  // ------------------------------------------------------------------ preprocessing
  /* nndl.images's constants, written into the page by nndl.report (so they cannot drift):
     INK, MIN_CONTRAST, WORK_SIDE, BACKGROUND_WINDOW, SPECK, WINDOW_STROKES, STROKE,
     STROKE_RANGE, INK_LEVEL; their meaning is in nndl.images.ink_image's docstring. */
  const P = DATA.preprocessing;

  function roundHalfEven(x) {  // Python's round()
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
  }

  function sorted(values) { return Float64Array.from(values).sort(); }

  function median(values) {  // numpy.median
    const v = sorted(values);
    const m = v.length >> 1;
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  function percentile(values, p) {  // numpy.percentile, method "linear", with NumPy's lerp
    const v = sorted(values), n = v.length;
    const index = (n - 1) * (p / 100), below = Math.floor(index);
    const a = v[below], b = v[Math.min(below + 1, n - 1)], t = index - below, diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
  }

  /* scipy.ndimage minimum_filter / maximum_filter with a k x k square (k odd) and
     mode="reflect" (d c b a | a b c d): one pass along rows, one along columns, each line
     by van Herk and Gil & Werman's running extrema (three comparisons a pixel for any k;
     min and max are exact, so the result is scipy's). */
  function reflect(i, n) {
    const m = ((i % (2 * n)) + 2 * n) % (2 * n);
    return m < n ? m : 2 * n - 1 - m;
  }
  function lineFilter(e, len, k, isMax, out) {  // out[c] = min/max of e[c .. c+k-1], c < len
    const n = len + k - 1, g = new Float64Array(n), hh = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = e[i];
      g[i] = i % k === 0 ? v : (isMax ? (v > g[i - 1] ? v : g[i - 1]) : (v < g[i - 1] ? v : g[i - 1]));
    }
    for (let i = n - 1; i >= 0; i--) {
      const v = e[i];
      hh[i] = i % k === k - 1 || i === n - 1 ? v : (isMax ? (v > hh[i + 1] ? v : hh[i + 1]) : (v < hh[i + 1] ? v : hh[i + 1]));
    }
    for (let c = 0; c < len; c++) {
      const u = hh[c], v = g[c + k - 1];
      out[c] = isMax ? (u > v ? u : v) : (u < v ? u : v);
    }
  }
  function squareFilter(x, w, h, k, isMax) {
    const half = k >> 1, tmp = new Float64Array(w * h), out = new Float64Array(w * h);
    const line = new Float64Array(Math.max(w, h) + k), res = new Float64Array(Math.max(w, h));
    for (let y = 0; y < h; y++) {
      for (let i = -half; i < w + half; i++) line[i + half] = x[y * w + reflect(i, w)];
      lineFilter(line, w, k, isMax, res);
      for (let c = 0; c < w; c++) tmp[y * w + c] = res[c];
    }
    for (let c = 0; c < w; c++) {
      for (let i = -half; i < h + half; i++) line[i + half] = tmp[reflect(i, h) * w + c];
      lineFilter(line, h, k, isMax, res);
      for (let y = 0; y < h; y++) out[y * w + c] = res[y];
    }
    return out;
  }

  /* skimage.filters.threshold_otsu(F, nbins=256) for a float image, as scikit-image 0.26
     computes it: numpy.histogram's 256 equal bins of [min, max] (edges by numpy.linspace,
     NumPy's bin search with its one-ulp corrections), bin centres, cumulative class
     weights and means, the first centre that maximises the between-class variance. */
  function otsu(F, nbins) {
    let lo = Infinity, hi = -Infinity;
    for (const v of F) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (lo === hi) return F[0];  // one value only: scikit-image returns it
    const step = (hi - lo) / nbins, edges = new Float64Array(nbins + 1);
    for (let i = 0; i < nbins; i++) edges[i] = i * step + lo;
    edges[nbins] = hi;
    const counts = new Float64Array(nbins), denom = hi - lo;
    for (const v of F) {
      let i = Math.trunc(((v - lo) / denom) * nbins);
      if (i === nbins) i -= 1;
      if (v < edges[i]) i -= 1;
      else if (v >= edges[i + 1] && i !== nbins - 1) i += 1;
      counts[i] += 1;
    }
    const centres = new Float64Array(nbins);
    for (let i = 0; i < nbins; i++) centres[i] = (edges[i] + edges[i + 1]) / 2;
    const w1 = new Float64Array(nbins), m1 = new Float64Array(nbins);
    const w2 = new Float64Array(nbins), m2 = new Float64Array(nbins);
    let cw = 0, cm = 0;
    for (let i = 0; i < nbins; i++) { cw += counts[i]; cm += counts[i] * centres[i]; w1[i] = cw; m1[i] = cm / cw; }
    cw = 0; cm = 0;
    for (let i = nbins - 1; i >= 0; i--) { cw += counts[i]; cm += counts[i] * centres[i]; w2[i] = cw; m2[i] = cm / cw; }
    let best = 0, bestValue = -Infinity;
    for (let i = 0; i < nbins - 1; i++) {
      const d = m1[i] - m2[i + 1];
      const v = w1[i] * w2[i + 1] * (d * d);
      if (v > bestValue) { bestValue = v; best = i; }
    }
    return centres[best];
  }

  /* scipy.ndimage.label(mask, structure=ones((3, 3))): 8-connected components, labels
     1..count in raster order of their first pixel; returns {labels, count}. */
  function label8(mask, w, h) {
    const labels = new Int32Array(w * h), stack = [];
    let count = 0;
    for (let start = 0; start < w * h; start++) {
      if (!mask[start] || labels[start]) continue;
      labels[start] = ++count;
      stack.push(start);
      while (stack.length) {
        const p = stack.pop(), py = (p / w) | 0, px = p - py * w;
        for (let dy = -1; dy <= 1; dy++) {
          const y = py + dy;
          if (y < 0 || y >= h) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const x = px + dx, q = y * w + x;
            if (x < 0 || x >= w || !mask[q] || labels[q]) continue;
            labels[q] = count;
            stack.push(q);
          }
        }
      }
    }
    return { labels, count };
  }

  /* scipy.ndimage.distance_transform_edt(K): each pixel's exact Euclidean distance to the
     nearest pixel outside K (squared distances by Felzenszwalb & Huttenlocher's lower
     envelope, in integers, then the square root). */
  function envelope1d(f, n, d) {  // d[q] = min_p (q - p)^2 + f[p]
    const v = new Int32Array(n), z = new Float64Array(n + 1);
    let k = -1;
    for (let q = 0; q < n; q++) {
      if (f[q] === Infinity) continue;
      if (k < 0) { k = 0; v[0] = q; z[0] = -Infinity; z[1] = Infinity; continue; }
      let s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      while (s <= z[k]) { k--; s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]); }
      k++; v[k] = q; z[k] = s; z[k + 1] = Infinity;
    }
    if (k < 0) { d.fill(Infinity); return; }
    k = 0;
    for (let q = 0; q < n; q++) {
      while (z[k + 1] < q) k++;
      d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
    }
  }
  function distanceTransform(K, w, h) {
    const g = new Float64Array(w * h), col = new Float64Array(h), colOut = new Float64Array(h);
    for (let x = 0; x < w; x++) {
      for (let y = 0; y < h; y++) col[y] = K[y * w + x] ? Infinity : 0;
      envelope1d(col, h, colOut);
      for (let y = 0; y < h; y++) g[y * w + x] = colOut[y];
    }
    const row = new Float64Array(w), rowOut = new Float64Array(w), out = new Float64Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) row[x] = g[y * w + x];
      envelope1d(row, w, rowOut);
      for (let x = 0; x < w; x++) out[y * w + x] = Math.sqrt(rowOut[x]);
    }
    return out;
  }

  /* Steps 3-8 of nndl.images.ink_image with a k x k window (its _ink_with_window):
     {ink I, kept mask K, stroke width w}, or null for a blank picture. */
  function inkWithWindow(x, w, h, k) {
    const B = squareFilter(squareFilter(x, w, h, k, false), w, h, k, true);  // step 3: opening
    const F = new Float64Array(w * h);
    let top = -Infinity;
    for (let i = 0; i < F.length; i++) { F[i] = x[i] - B[i]; if (F[i] > top) top = F[i]; }  // step 4
    if (top < P.MIN_CONTRAST) return null;
    const t = Math.max(otsu(F, 256), P.MIN_CONTRAST / 2);  // step 5
    const mask = new Uint8Array(w * h);
    for (let i = 0; i < F.length; i++) mask[i] = F[i] > t ? 1 : 0;
    const { labels, count } = label8(mask, w, h);  // step 6
    const sizes = new Float64Array(count + 1), edge = new Uint8Array(count + 1);
    for (let i = 0; i < labels.length; i++) sizes[labels[i]] += 1;
    for (let x0 = 0; x0 < w; x0++) { edge[labels[x0]] = 1; edge[labels[(h - 1) * w + x0]] = 1; }
    for (let y0 = 0; y0 < h; y0++) { edge[labels[y0 * w]] = 1; edge[labels[y0 * w + w - 1]] = 1; }
    let keep = [];
    for (let c = 1; c <= count; c++) if (!edge[c]) keep.push(c);
    if (!keep.length) for (let c = 1; c <= count; c++) keep.push(c);
    const largest = Math.max(...keep.map((c) => sizes[c]));
    keep = keep.filter((c) => sizes[c] >= P.SPECK * largest);
    const kept = new Uint8Array(count + 1);
    for (const c of keep) kept[c] = 1;
    const K = new Uint8Array(w * h), strengths = [];
    for (let i = 0; i < K.length; i++) if (kept[labels[i]]) { K[i] = 1; strengths.push(F[i]); }
    const q = percentile(strengths, P.INK_LEVEL);  // step 7
    const ink = new Float64Array(w * h);
    for (let y = 0; y < h; y++) {  // step 8: zero farther than one pixel from K
      for (let x0 = 0; x0 < w; x0++) {
        let near = false;
        for (let dy = -1; dy <= 1 && !near; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy, xx = x0 + dx;
            if (yy >= 0 && yy < h && xx >= 0 && xx < w && K[yy * w + xx]) { near = true; break; }
          }
        }
        const i = y * w + x0;
        if (near) ink[i] = Math.min(1, Math.max(0, F[i] / q));
      }
    }
    const dist = distanceTransform(K, w, h), inside = [];
    for (let i = 0; i < K.length; i++) if (K[i]) inside.push(dist[i]);
    return { ink, K, width: 4 * median(inside) };  // step 9's w
  }

  /* nndl.images.ink_image, step by step (its docstring is the specification): ink 1,
     paper 0 for a picture of one digit. grey: Float64Array (h*w) in [0, 1], 0 black.
     Returns {ink, w, h} (smaller than the picture only after step 1), or null if blank. */
  function inkImage(grey, w, h) {
    let g = grey;
    const f = Math.ceil(Math.max(h, w) / P.WORK_SIDE);  // step 1: box-average big pictures
    if (f > 1) {
      const hh = Math.floor(h / f), ww = Math.floor(w / f), small = new Float64Array(hh * ww);
      for (let y = 0; y < hh; y++) {
        for (let x = 0; x < ww; x++) {
          let s = 0;
          for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += grey[(y * f + dy) * w + x * f + dx];
          small[y * ww + x] = s / (f * f);
        }
      }
      g = small; w = ww; h = hh;
    }
    const light = median(g) > 0.5;  // step 2: polarity, ink high
    const x = light ? g.map((v) => 1 - v) : g;
    const k = Math.max(3, roundHalfEven(P.BACKGROUND_WINDOW * Math.max(w, h)) | 1);  // step 3: odd
    let r = inkWithWindow(x, w, h, k);  // steps 3-8
    if (r === null) return null;
    if (r.width * P.WINDOW_STROKES > k) {  // step 3b: a pen too wide for the window
      r = inkWithWindow(x, w, h, Math.ceil(r.width * P.WINDOW_STROKES) | 1);
      if (r === null) return null;
    }
    let { ink } = r;
    const { K, width } = r;
    let r0 = h, r1 = -1, c0 = w, c1 = -1;  // step 9: the digit's size and the pen's width
    for (let y = 0; y < h; y++) {
      for (let c = 0; c < w; c++) {
        if (K[y * w + c]) { r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, c); c1 = Math.max(c1, c); }
      }
    }
    const size = Math.max(r1 - r0, c1 - c0) + 1;
    if (!(P.STROKE_RANGE[0] <= width / size && width / size <= P.STROKE_RANGE[1])) {
      const rad = roundHalfEven(Math.abs(width - P.STROKE * size) / 2);
      if (rad > 0) {  // grey erosion (thinning) or dilation (thickening) with a disk, outside = 0
        const thin = width > P.STROKE * size, dys = [], dxs = [];
        for (let dy = -rad; dy <= rad; dy++) {
          for (let dx = -rad; dx <= rad; dx++) if (dy * dy + dx * dx <= rad * rad) { dys.push(dy); dxs.push(dx); }
        }
        const out = new Float64Array(w * h);
        for (let y = 0; y < h; y++) {
          for (let c = 0; c < w; c++) {
            let v = thin ? Infinity : -Infinity;
            for (let j = 0; j < dys.length; j++) {
              const yy = y + dys[j], xx = c + dxs[j];
              const u = yy >= 0 && yy < h && xx >= 0 && xx < w ? ink[yy * w + xx] : 0;
              v = thin ? Math.min(v, u) : Math.max(v, u);
            }
            out[y * w + c] = v;
          }
        }
        ink = out;
      }
    }
    return { ink, w, h };
  }

  /* Pillow's Image.resize(..., LANCZOS) of a mode "F" (float32) image, as Pillow's
     Resample.c computes it: separable, horizontal pass first, each pass skipped if that
     side keeps its size, double-precision sums stored as float32 after each pass. */
  function lanczos(x) {
    const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t));
    return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
  }
  function coefficients(inSize, outSize) {
    const scale = inSize / outSize, filterscale = Math.max(scale, 1);
    const support = 3 * filterscale, ss = 1 / filterscale;
    const taps = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(center - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
      const k = new Float64Array(Math.max(xmax, 0));
      let ww = 0;
      for (let x = 0; x < xmax; x++) { k[x] = lanczos((x + xmin - center + 0.5) * ss); ww += k[x]; }
      if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
      taps.push({ xmin, k });
    }
    return taps;
  }
  function resizeLanczos(src, w, h, newW, newH) {
    let img = src, cw = w;
    if (newW !== w) {
      const taps = coefficients(w, newW), out = new Float32Array(newW * h);
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < newW; xx++) {
          const { xmin, k } = taps[xx];
          let s = 0;
          for (let x = 0; x < k.length; x++) s += img[y * cw + xmin + x] * k[x];
          out[y * newW + xx] = s;
        }
      }
      img = out; cw = newW;
    }
    if (newH !== h) {
      const taps = coefficients(h, newH), out = new Float32Array(cw * newH);
      for (let yy = 0; yy < newH; yy++) {
        const { xmin, k } = taps[yy];
        for (let x = 0; x < cw; x++) {
          let s = 0;
          for (let y = 0; y < k.length; y++) s += img[(xmin + y) * cw + x] * k[y];
          out[yy * cw + x] = s;
        }
      }
      img = out;
    }
    return img;
  }

  /* THE PREPROCESSING: a picture -> the network's input, the JavaScript twin of
     nndl.images.digit_input: inkImage (nndl.images.ink_image: background by grey opening,
     Otsu's threshold, components, pen width), then nndl.images.normalize (crop, Lanczos
     into box x box, centre of mass at centre).
     grey: Float64Array (h*w, row-major) of grey levels in [0, 1];
     frame: {side, box, centre} from nndl.images.frame_for (28, 20, 14.0 for MNIST).
     Returns a Float64Array (side*side) with ink 1 on 0, or null if there is no digit.
     Keep it in step with src/nndl/images.py; the browser tests catch any divergence. */
  function mnistInput(grey, width, height, frame) {
    const found = inkImage(grey, width, height);
    if (found === null) return null;
    const { ink, w, h } = found;
    // normalize: crop to the pixels above INK, scale into box x box, centre of mass at centre.
    let r0 = h, r1 = -1, c0 = w, c1 = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (ink[y * w + x] > P.INK) {
          if (y < r0) r0 = y;
          if (y > r1) r1 = y;
          if (x < c0) c0 = x;
          if (x > c1) c1 = x;
        }
      }
    }
    if (r1 < 0) return null;
    const dh = r1 - r0 + 1, dw = c1 - c0 + 1;
    const digit = new Float32Array(dh * dw);
    for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) digit[y * dw + x] = ink[(r0 + y) * w + c0 + x];
    const { side, box, centre } = frame;
    const scale = box / Math.max(dh, dw);
    const newH = Math.max(1, roundHalfEven(dh * scale)), newW = Math.max(1, roundHalfEven(dw * scale));
    const resized = resizeLanczos(digit, dw, dh, newW, newH);
    const patch = new Float64Array(newW * newH);
    let mass = 0, mr = 0, mc = 0;
    for (let y = 0; y < newH; y++) {
      for (let x = 0; x < newW; x++) {
        const v = Math.min(1, Math.max(0, resized[y * newW + x]));
        patch[y * newW + x] = v;
        mass += v; mr += y * v; mc += x * v;
      }
    }
    if (!(mass > 0)) return null;
    const clip = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const topRow = clip(roundHalfEven(centre - mr / mass), 0, side - newH);
    const left = clip(roundHalfEven(centre - mc / mass), 0, side - newW);
    const out = new Float64Array(side * side);
    for (let y = 0; y < newH; y++) for (let x = 0; x < newW; x++) out[(topRow + y) * side + left + x] = patch[y * newW + x];
    return out;
  }

  /* Grey levels of canvas pixels as Pillow's convert("L") makes them (ITU-R 601-2 luma,
     Pillow's integer rounding), over white where transparent (nndl.images.read_grey). */
  function greyFromRGBA(rgba) {
    const n = rgba.length / 4, grey = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const a = rgba[4 * i + 3] / 255;
      const r = Math.round(rgba[4 * i] * a + 255 * (1 - a));
      const g = Math.round(rgba[4 * i + 1] * a + 255 * (1 - a));
      const b = Math.round(rgba[4 * i + 2] * a + 255 * (1 - a));
      grey[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255;
    }
    return grey;
  }

  // ------------------------------------------------------------------ drawing helpers
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v) { return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2); }
  function norm(v) { let s = 0; for (const x of v) s += x * x; return Math.sqrt(s); }
  function diverging(v, scale) {  // blue (-) white (0) red (+)
    const t = Math.max(-1, Math.min(1, scale ? v / scale : 0));
    const c = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? `rgb(255,${c},${c})` : `rgb(${c},${c},255)`;
  }

  /* One small image of `values` (h x w, row-major): signed ones blue (-) white (0) red (+)
     on the scale `scale`, others grey from white (0) to black (`scale`). */
  function mapCanvas(values, w, h, scale, signed, title) {
    const c = el("canvas", { width: w, height: h, title });
    const ctx = c.getContext("2d");
    const img = ctx.createImageData(w, h);
    for (let k = 0; k < w * h; k++) {
      const t = scale ? Math.max(-1, Math.min(1, values[k] / scale)) : 0, c8 = Math.round(255 * (1 - Math.abs(t)));
      img.data.set(!signed ? [c8, c8, c8, 255] : t >= 0 ? [255, c8, c8, 255] : [c8, c8, 255, 255], 4 * k);
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }
  function maxAbs(values, from, to) {
    let m = 0;
    for (let k = from; k < to; k++) m = Math.max(m, Math.abs(values[k]));
    return m;
  }

  function drawNeurons() {
    const grid = document.getElementById("neuron-grid");
    const frame = NET.frame;
    const first = layered ? MODEL.layers[0] : null;
    if (layered && frame && first.type === "ConvPoolLayer") {  // the book's picture of the first layer's filters
      document.querySelector("#neurons h2").textContent = "What the first layer's filters look for";
      const [F, C, fh, fw] = first.filter_shape;
      document.getElementById("neurons-note").textContent = `Each image is one of the ${F} filters w[f] (${fh}x${fw}) of the ` +
        "first ConvPoolLayer, as network3 stores it: red weights excite the feature map, blue ones inhibit it (each " +
        "image on its own scale, white = 0). network3's convolution flips the kernel (Theano's conv2d, a true " +
        "convolution), so the pattern a filter answers to most is this image turned by 180 degrees.";
      grid.classList.add("filters");
      for (let f = 0; f < F; f++) {
        for (let c = 0; c < C; c++) {
          const k0 = (f * C + c) * fh * fw;
          const fig = el("figure");
          fig.append(mapCanvas(first.W.subarray(k0, k0 + fh * fw), fw, fh, maxAbs(first.W, k0, k0 + fh * fw), true,
            `filter ${f}`), el("figcaption", {}, C > 1 ? `${f}.${c}` : String(f)));
          grid.append(fig);
        }
      }
      return;
    }
    const dense = layered && frame && first.type !== "SoftmaxLayer";  // ch6-fc: w is (n_in, n_out)
    if (!dense && (!chapter3 || !frame || W.length < 2)) {
      grid.replaceWith(el("p", { class: "note" }, chapter3 || layered
        ? "The inputs are not a square image (or there is no hidden layer): no neuron images."
        : "Neuron images are drawn for chapter-3 and chapter-6 networks (nndl.Network, nndl.network3.Network) only."));
      return;
    }
    const side = frame.side, nIn = side * side, w = dense ? first.W : W[0];
    const nOut = dense ? first.n_out : B[0].length;
    const weight = dense ? (j, k) => w[k * nOut + j] : (j, k) => w[j * nIn + k];
    const n = Math.min(nOut, DATA.max_neurons);
    for (let j = 0; j < n; j++) {
      const v = new Float64Array(nIn);
      for (let k = 0; k < nIn; k++) v[k] = weight(j, k);
      const fig = el("figure");
      fig.append(mapCanvas(v, side, side, maxAbs(v, 0, nIn), true, `hidden neuron ${j}`), el("figcaption", {}, String(j)));
      grid.append(fig);
    }
  }

  function bars(container, values, opts) {
    container.textContent = "";
    const signed = opts && opts.signed;
    const top = opts && opts.highlight;
    const scale = signed ? Math.max(1e-12, ...values.map(Math.abs)) : 1;
    values.forEach((v, j) => {
      const row = el("div", { class: "bar" + (j === top ? " top" : "") + (signed ? " signed" : "") });
      const track = el("div", { class: "track" }), fill = el("div", { class: "fill" });
      if (signed) {
        const width = 50 * Math.abs(v) / scale;
        fill.style.width = width + "%";
        fill.style.left = (v >= 0 ? 50 : 50 - width) + "%";
        fill.style.background = v >= 0 ? "#d62728" : "#1f77b4";
      } else {
        fill.style.width = Math.max(0, Math.min(1, v)) * 100 + "%";
      }
      track.append(fill);
      row.append(el("span", {}, String(j)), track, el("span", {}, fmt(v)));
      container.append(row);
    });
  }

  function cells(values, scale, signed) {
    const box = el("div", { class: "cells" });
    values.forEach((v, j) => {
      const s = el("span", { title: `neuron ${j}: ${fmt(v)}` });
      s.style.background = signed ? diverging(v, scale) : `rgb(${Math.round(255 * (1 - v))},${Math.round(255 * (1 - v))},${Math.round(255 * (1 - v))})`;
      box.append(s);
    });
    return box;
  }

  // ------------------------------------------------------------------ the panel
  const state = { input: null, pass: null, label: null, deltas: null };

  /* A chapter-6 layer's values (activations or deltas) drawn: a ConvPoolLayer's as one
     small image per feature map, a fully connected layer's as cells. */
  function layerValues(L, values, signed) {
    if (L.type !== "ConvPoolLayer") {
      const scale = signed ? Math.max(1e-12, maxAbs(values, 0, values.length)) : 1;
      return cells(Array.from(values).map((v) => (signed ? v : Math.min(1, Math.max(0, v)))), scale, signed);
    }
    const [F, , fh, fw] = L.filter_shape, [, H, Wd] = L.image_shape;
    const h = Math.floor((H - fh + 1) / L.poolsize[0]), w = Math.floor((Wd - fw + 1) / L.poolsize[1]), n = h * w;
    const negative = values.some((v) => v < 0);
    const scale = Math.max(1e-12, L.activation === "sigmoid" && !signed ? 1 : maxAbs(values, 0, values.length));
    const box = el("div", { class: "maps" });
    for (let f = 0; f < F; f++) {
      const fig = el("figure");
      fig.append(mapCanvas(values.subarray(f * n, (f + 1) * n), w, h, scale, signed || negative, `feature map ${f}`));
      box.append(fig);
    }
    return box;
  }

  function showDeltas6() {  // layers[l] is the book's layer l + 2 (layer 1: the input image)
    const box = document.getElementById("deltas");
    const n = MODEL.layers.length;
    for (let l = n - 1; l >= 0; l--) {
      const d = state.deltas[l], L = MODEL.layers[l];
      const div = el("div", { class: "layer" });
      const rule = l === n - 1 ? "BP1, eq. (84)" : "BP2";
      const h = el("h3", {}, `layer ${l + 2}, ${L.type}${l === n - 1 ? " (output)" : ""}, by ${rule}: `);
      h.append(el("span", { class: "math" }, `\\|\\delta^{${l + 2}}\\| = ${fmt(norm(d))}`));
      div.append(h);
      if (l === n - 1) {
        const b = el("div", { class: "bars" });
        bars(b, Array.from(d), { signed: true });
        div.append(b);
      } else {
        div.append(layerValues(L, d, true));
      }
      box.append(div);
    }
    renderMath(box);
  }

  function showDeltas() {
    const box = document.getElementById("deltas");
    box.textContent = "";
    if (state.pass === null || state.label === null) { state.deltas = null; return; }
    state.deltas = deltas(state.pass, state.label);
    if (layered) { showDeltas6(); return; }
    const L = state.deltas.length + 1;  // layers 2..L in the book's numbering
    for (let l = state.deltas.length - 1; l >= 0; l--) {
      const d = state.deltas[l], layer = l + 2;
      const div = el("div", { class: "layer" });
      const rule = layer === L ? "BP1" : "BP2";
      const h = el("h3", {}, `layer ${layer}${layer === L ? " (output)" : ""}, by ${rule}: `);
      h.append(el("span", { class: "math" }, `\\|\\delta^{${layer}}\\| = ${fmt(norm(d))}`));
      div.append(h);
      if (layer === L) {
        const b = el("div", { class: "bars" });
        bars(b, Array.from(d), { signed: true });
        div.append(b);
      } else {
        div.append(cells(Array.from(d), Math.max(1e-12, ...Array.from(d).map(Math.abs)), true));
      }
      box.append(div);
    }
    renderMath(box);
  }

  function showActivations() {
    const verdict = document.getElementById("verdict");
    const outputs = document.getElementById("output-bars");
    const hidden = document.getElementById("hidden-activations");
    const seen = document.getElementById("seen");
    const sctx = seen.getContext("2d");
    hidden.textContent = "";
    if (state.input === null) {
      sctx.fillStyle = "#000"; sctx.fillRect(0, 0, seen.width, seen.height);
      verdict.textContent = "Draw a digit.";
      outputs.textContent = "";
      return;
    }
    const side = NET.frame.side;
    const img = sctx.createImageData(side, side);
    state.input.forEach((v, i) => { const g = Math.round(255 * v); img.data.set([g, g, g, 255], 4 * i); });
    sctx.putImageData(img, 0, 0);
    const a = state.pass.as[state.pass.as.length - 1];
    let best = 0;
    for (let j = 1; j < a.length; j++) if (a[j] > a[best]) best = j;
    verdict.innerHTML = "";
    verdict.append(`The network reads ${best === 8 ? "an" : "a"} `, el("b", { id: "predicted" }, String(best)));
    bars(outputs, Array.from(a), { highlight: best });
    if (layered) {  // each layer's output: a ConvPoolLayer's feature maps, a fully connected layer's cells
      MODEL.layers.slice(0, -1).forEach((L, l) => {
        const div = el("div", { class: "layer" }), values = state.pass.as[l + 1];
        const what = L.type === "ConvPoolLayer"
          ? `${L.filter_shape[0]} feature maps, ${L.activation}(max-pool(conv) + b), dark = high`
          : `${L.n_out} neurons, ${L.activation}, dark = 1`;
        const h = el("h3", {}, `Layer ${l + 2}, ${L.type}: activations `);
        h.append(el("span", { class: "math" }, `a^{${l + 2}}`), ` (${what})`);
        div.append(h, layerValues(L, values, false));
        hidden.append(div);
      });
      renderMath(hidden);
      return;
    }
    for (let l = 1; l < state.pass.as.length - 1; l++) {
      const div = el("div", { class: "layer" });
      const h = el("h3", {}, `Hidden layer ${l + 1}: activations `);
      h.append(el("span", { class: "math" }, `a^{${l + 1}}`), ` (${state.pass.as[l].length} neurons, dark = 1)`);
      div.append(h);
      div.append(cells(Array.from(state.pass.as[l]).map((v) => Math.min(1, Math.max(0, v))), 1, false));
      hidden.append(div);
    }
    renderMath(hidden);
  }

  const LIVE_EVERY = 100;  // ms between updates while a stroke is being drawn (and one at its end)

  function setupPad() {
    const pad = document.getElementById("pad");
    const ctx = pad.getContext("2d", { willReadFrequently: true });
    const penWidth = pad.width / 14;  // strokes about as thick as MNIST's, relative to the digit
    const clear = () => {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, pad.width, pad.height);
      state.input = state.pass = state.deltas = null;
      showActivations();
      showDeltas();
    };
    const update = () => {
      const rgba = ctx.getImageData(0, 0, pad.width, pad.height).data;
      state.input = mnistInput(greyFromRGBA(rgba), pad.width, pad.height, NET.frame);
      state.pass = state.input === null ? null : forward(state.input);
      showActivations();
      showDeltas();
    };
    let last = null, timer = null;
    const point = (e) => {
      const r = pad.getBoundingClientRect();
      return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
    };
    const stroke = (p) => {
      ctx.strokeStyle = ctx.fillStyle = "#000"; ctx.lineWidth = penWidth; ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.beginPath();
      if (p[0] === last[0] && p[1] === last[1]) {  // a dot (the canvas draws no zero-length line)
        ctx.arc(p[0], p[1], penWidth / 2, 0, 2 * Math.PI); ctx.fill();
      } else {
        ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
      }
      last = p;
      if (timer === null) timer = setTimeout(() => { timer = null; if (last !== null) update(); }, LIVE_EVERY);
    };
    pad.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      window.nndl.lastPointerType = e.pointerType;  // mouse, pen or touch
      pad.setPointerCapture(e.pointerId);
      last = point(e);
      stroke(last);
    });
    pad.addEventListener("pointermove", (e) => { if (last !== null) stroke(point(e)); });
    const end = () => {
      if (timer !== null) { clearTimeout(timer); timer = null; }
      if (last !== null) { last = null; update(); }
    };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    document.getElementById("clear").addEventListener("click", clear);
    const labels = document.getElementById("labels");
    for (let d = 0; d < NET.sizes[NET.sizes.length - 1]; d++) {
      const b = el("button", { type: "button", "aria-pressed": "false", "data-label": d }, String(d));
      b.addEventListener("click", () => {
        state.label = d;
        for (const other of labels.children) other.setAttribute("aria-pressed", String(other === b));
        showDeltas();
      });
      labels.append(b);
    }
    clear();
    return { pad, ctx, update, clear };
  }

  function setupDrawing() {
    if (!MODEL || !NET.frame) {
      const why = MODEL
        ? "The draw-a-digit panel needs a network whose inputs are one square grey image."
        : `The draw-a-digit panel, the activations and the deltas are for chapter-3 and chapter-6 networks (nndl.Network, nndl.network3.Network) only; this is a ${NET.type}.`;
      document.getElementById("draw-panel").replaceWith(el("p", { class: "note" }, why));
      document.getElementById("hidden-activations").remove();
      document.getElementById("deltas-panel").remove();
      document.getElementById("draw-note").remove();
      return null;
    }
    return setupPad();
  }

  // ------------------------------------------------------------------ start
  if (chapter3 && NET.frame) {  // BP1 and BP2 as this network computes them
    const bp1 = document.getElementById("bp1-formula"), bp2 = document.getElementById("bp2-formula");
    if (NET.output === "sigmoid" && NET.cost === "cross-entropy") {
      bp1.textContent = "\\delta^L = \\nabla_a C \\odot \\sigma'(z^L) = a^L - y";
    } else if (NET.output === "softmax" && NET.cost === "log-likelihood") {
      bp1.textContent = "\\delta^L = a^L - y \\text{ (eq. 84)}";
    } else if (NET.output === "softmax") {
      bp1.textContent = "\\delta^L = \\left(\\partial a^L / \\partial z^L\\right)^T \\nabla_a C \\text{ (softmax output)}";
    }
    const prime = { sigmoid: "\\sigma'(z^l)", tanh: "\\tanh'(z^l) = 1 - (a^l)^2", relu: "\\mathrm{ReLU}'(z^l) = [z^l > 0]" }[NET.hidden];
    if (prime) bp2.textContent = `\\delta^l = \\left((w^{l+1})^T \\delta^{l+1}\\right) \\odot ${prime}`;
  }
  if (layered && NET.frame) {  // BP1 and BP2 as network3 backpropagates
    const p = document.querySelector("#deltas-panel p");
    p.innerHTML = "Choose the digit you meant. The page computes the softmax layer's error by BP1 with the " +
      "log-likelihood cost, <span class=\"math\">\\delta^L = a^L - y</span> (eq. 84), and each earlier layer's by BP2, " +
      "<span class=\"math\">\\delta^l = \\partial C/\\partial a^l \\odot f'(z^l)</span>, as network3 backpropagates. " +
      "Through a fully connected layer <span class=\"math\">\\partial C/\\partial a^l = (1 - p)\\, w^{l+1} \\delta^{l+1}</span> " +
      "(network3's <span class=\"math\">w</span> is <span class=\"math\">n_{in} \\times n_{out}</span>; " +
      "<span class=\"math\">p</span> its dropout, scaled as at test time). Through a ConvPool layer each pooled " +
      "unit's error goes to the one input of its block that won the max (the first, on ties), and from there " +
      "back through the convolution, <span class=\"math\">\\partial C/\\partial a^l_{c,i+p,j+q} \\mathrel{+}= " +
      "\\delta_{f,i,j}\\, w_{f,c,f_h-1-p,f_w-1-q}</span>. A ConvPool layer's <span class=\"math\">z</span> is " +
      "max-pool(conv) + b, so its errors are drawn as maps of the pooled units.";
  }
  for (const id of ["run", "training", "neurons", "draw"]) renderMath(document.getElementById(id));
  for (const d of document.querySelectorAll("details.answer")) {
    d.addEventListener("toggle", () => { if (d.open) renderMath(d); });
  }
  drawNeurons();
  const pad = setupDrawing();

  // For the tests and the curious: the page's functions and its current state.
  window.nndl = {
    forward, deltas, mnistInput, greyFromRGBA, renderMath, state, pad, network: NET, chapter3Network, chapter6Network,
    ready: true,
  };
})();
