"""The runtime of a generated NumPy module: real code that the generator inlines.

:func:`symlstm.codegen.numpy_code.generate_numpy` writes a module in three parts: the
constants and the ``shapes`` function it prints from the step plan, the element-wise step
functions it prints from the plan (``_forward_step``, ``_backward_step`` and their scratch
buffers ``_forward_work``, ``_backward_work``), and the functions below, copied verbatim
(their source is read with :func:`inspect.getsource`). The functions below are the same for
every variant: the time loops forward and backward with their GEMMs, the values saved for
backward, the argument checks, the projection h = W_hr m and the tied cell's parameters.

The names in the first section stand in for what a generated module prints (they make this
module importable and checkable on its own); the generator does not copy them. Nothing here
is part of the API, and it imports nothing but NumPy, as a generated module must.

>>> KIND, PROJECTION
('vector', False)
>>> _sigmoid(np.array([0.0, 800.0, -800.0])).tolist()
[0.5, 1.0, 0.0]
"""

import numpy as np

#: Internal to the generator: see the module's docstring.
__all__: list[str] = []

# -- Stand-ins: a generated module prints these from the step plan ------------------------------

#: The gates in the order of their blocks in the stacked weights.
GATES: tuple[str, ...] = ("i", "f", "o", "g")
#: The parameters' names, as params must hold them.
PARAMETERS: tuple[str, ...] = ()
#: "vector", "scalar" or "tied" (scalar parameters; tied: W_k = U_k = w_k).
KIND = "vector"
#: Whether h = W_hr m (PyTorch's proj_size).
PROJECTION = False
#: The gates whose pre-activation z_k the backward step reads: forward keeps them.
CACHED_Z: tuple[str, ...] = ()
#: (parameter, gate, state): dp_k = the sum over steps and batch of dz_k * state.
PEEPHOLE_GRADIENTS: tuple[tuple[str, str, str], ...] = ()


def shapes(hidden, input, proj=None):
    """The shape of every parameter (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


def _forward_work(B, n, dtype):
    """The forward step's scratch buffers (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


def _forward_step(a, c_prev, c, s, h, t, Z, p, work):
    """One step forward, element-wise, in place (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


def _backward_work(B, n, dtype):
    """The backward step's scratch buffers (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


def _backward_step(dz, c_prev, c, s, dh, dc_next, dc_prev, t, Z, p, work):
    """One step backward, element-wise, in place (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


# -- The runtime: copied into every generated module ------------------------------------------


def forward(params, x, h0=None, c0=None):
    """Run the cell over x (T, batch, input) from h0, c0 (batch, hidden; zeros if None).

    Returns y (T, batch, hidden: every h_t), h_T, c_T and the cache backward needs.
    """
    p, x, h0, c0 = _prepare(params, x, h0, c0)
    dtype = x.dtype
    T, B, m = x.shape
    n, q = c0.shape[1], h0.shape[1]  # q: the width of h (proj_size with a projection)
    W = np.concatenate([p["W_" + k] for k in GATES])  # (len(GATES) n, m)
    U = np.concatenate([p["U_" + k] for k in GATES])
    b = np.concatenate([p["b_" + k] for k in GATES])
    # Input projections of all steps in one GEMM, the bias included (x gets a column of
    # ones, W the column b); each step adds U h_(t-1) and its gates are computed in place,
    # so G ends up holding the activated gates.
    X1 = np.empty((T * B, m + 1), dtype)
    X1[:, :m] = x.reshape(T * B, m)
    X1[:, m] = 1
    G = np.matmul(X1, np.concatenate([W, b[:, None]], axis=1).T).reshape(T, B, len(GATES) * n)
    C = np.empty((T + 1, B, n), dtype)
    H = np.empty((T + 1, B, q), dtype)
    S = np.empty((T, B, n), dtype)
    C[0] = c0
    H[0] = h0
    # z_k of the gates in CACHED_Z, read by backward
    Z = tuple(np.empty((T, B, n), dtype) for _ in CACHED_Z)
    # With a projection the element-wise step writes m = o * s into M[t], then h = W_hr m
    M = np.empty((T, B, n), dtype) if PROJECTION else None
    WhrT = np.ascontiguousarray(p["W_hr"].T) if PROJECTION else None
    r = np.empty((B, len(GATES) * n), dtype)
    work = _forward_work(B, n, dtype)
    for t in range(T):
        a = G[t]
        np.matmul(H[t], U.T, out=r)
        a += r
        if PROJECTION:
            _forward_step(a, C[t], C[t + 1], S[t], M[t], t, Z, p, work)
            np.matmul(M[t], WhrT, out=H[t + 1])
        else:
            _forward_step(a, C[t], C[t + 1], S[t], H[t + 1], t, Z, p, work)
    cache = {"X1": X1, "W": W, "U": U, "G": G, "C": C, "H": H, "S": S, "fresh": True}
    cache.update(("Z_" + k, z) for k, z in zip(CACHED_Z, Z, strict=True))
    if PROJECTION:
        cache["M"], cache["Whr"] = M, p["W_hr"]
    return H[1:], H[T], C[T], cache


def backward(params, cache, dy, dhT=None, dcT=None):
    """Gradients from dy = dL/dh_t (T, batch, hidden) and extra dL/dh_T, dL/dc_T.

    Returns a dict: the gradient of every parameter by name, and of x, h0 and c0.
    """
    X1, W, U, G, C, H, S = (cache[k] for k in ("X1", "W", "U", "G", "C", "H", "S"))
    Z = tuple(cache["Z_" + k] for k in CACHED_Z)
    dtype = G.dtype
    T, B = G.shape[:2]
    m = X1.shape[1] - 1
    n, q = C.shape[2], H.shape[2]
    p = _parameters(params, dtype, m, n)
    dy = _array(dy, dtype, (T, B, q), "dy")
    if cache.pop("fresh", False) is not True:
        raise ValueError("this cache was used by backward already: run forward again")
    dZ = G  # dL/dz_t overwrites the gates step by step: no second (T, B, 4 n) buffer
    dh_next = np.zeros((B, q), dtype) if dhT is None else _array(dhT, dtype, (B, q), "dhT").copy()
    dc_next = np.zeros((B, n), dtype) if dcT is None else _array(dcT, dtype, (B, n), "dcT").copy()
    dc_prev = np.empty((B, n), dtype)
    dh = np.empty((B, n), dtype)
    if PROJECTION:
        M, Whr = cache["M"], cache["Whr"]
        DH = np.empty((T, B, q), dtype)  # dL/dh_t in total, for dW_hr
    work = _backward_work(B, n, dtype)
    for t in range(T - 1, -1, -1):
        dz = dZ[t]
        if PROJECTION:
            np.add(dy[t], dh_next, out=DH[t])
            np.matmul(DH[t], Whr, out=dh)  # dm = W_hr^T dh: the element-wise step's dh
        else:
            np.add(dy[t], dh_next, out=dh)
        _backward_step(dz, C[t], C[t + 1], S[t], dh, dc_next, dc_prev, t, Z, p, work)
        np.matmul(dz, U, out=dh_next)
        dc_next, dc_prev = dc_prev, dc_next
    flat = dZ.reshape(T * B, len(GATES) * n)
    # The weight gradients over all steps as X1^T dZ and H^T dZ, whose transposes are dW
    # (db in the column of x's ones) and dU: OpenBLAS runs these a quarter faster than
    # dZ^T X1 and dZ^T H. The gradients are views of them.
    dWb = np.matmul(X1.T, flat).T
    dW, db = dWb[:, :m], dWb[:, m].copy()
    dU = np.matmul(H[:-1].reshape(T * B, q).T, flat).T
    grads = {}
    for index, k in enumerate(GATES):
        rows = slice(index * n, (index + 1) * n)
        grads["W_" + k], grads["U_" + k], grads["b_" + k] = dW[rows], dU[rows], db[rows]
    for name, gate, state in PEEPHOLE_GRADIENTS:
        # dp_k = the sum over steps and batch of dz_k * state (c_prev or c)
        index = GATES.index(gate)
        states = C[:-1] if state == "c_prev" else C[1:]
        grads[name] = np.einsum("tbn,tbn->n", dZ[:, :, index * n : (index + 1) * n], states)
    if PROJECTION:
        # dW_hr = sum over steps and batch of dh m^T
        grads["W_hr"] = np.matmul(M.reshape(T * B, n).T, DH.reshape(T * B, q)).T
    grads["x"] = np.matmul(flat, W).reshape(T, B, m)
    grads["h0"] = dh_next
    grads["c0"] = dc_next
    return grads if KIND == "vector" else _scalar_gradients(grads)


def _prepare(params, x, h0, c0):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be float32 or float64, not {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"x must be (T, batch, input), not of shape {x.shape}")
    _, B, m = x.shape
    key = "U_" + GATES[0]  # the hidden size: that of U_k (1 in a scalar cell)
    n = np.shape(params[key])[0] if KIND == "vector" and key in params else 1
    p = _parameters(params, x.dtype, m, n)
    q = p["W_hr"].shape[0] if PROJECTION else n
    h0 = np.zeros((B, q), x.dtype) if h0 is None else _array(h0, x.dtype, (B, q), "h0")
    c0 = np.zeros((B, n), x.dtype) if c0 is None else _array(c0, x.dtype, (B, n), "c0")
    return p, x, h0, c0


def _parameters(params, dtype, m, n):
    missing = [k for k in PARAMETERS if k not in params]
    if missing:
        raise KeyError(f"missing parameters: {', '.join(missing)}")
    unknown = [k for k in params if k not in PARAMETERS]
    if unknown:
        raise KeyError(f"unknown parameters: {', '.join(unknown)}; known: {PARAMETERS}")
    if KIND == "vector":
        p = {k: _array(v, dtype, np.shape(v), k) for k, v in params.items()}
        sizes = (n, m, np.shape(p["W_hr"])[0] if p["W_hr"].ndim else 0) if PROJECTION else (n, m)
        for k, v in shapes(*sizes).items():
            if p[k].shape != v:
                raise ValueError(f"{k} has shape {p[k].shape}, expected {v}")
        return p
    p = {}  # scalar parameters as (1, 1) weights and (1,) vectors
    for k in PARAMETERS:
        v = _array(params[k], dtype, (), k)
        if k.startswith("w_"):  # tied: W_k = U_k = w_k
            p["W" + k[1:]] = p["U" + k[1:]] = v.reshape(1, 1)
        else:
            p[k] = v.reshape((1, 1) if k[0] in "WU" else (1,))
    return p


def _scalar_gradients(grads):
    out = {k: grads[k] for k in ("x", "h0", "c0")}
    for k in PARAMETERS:
        if k.startswith("w_"):  # W_k = U_k = w_k: dw_k = dW_k + dU_k
            out[k] = (grads["W" + k[1:]] + grads["U" + k[1:]]).reshape(())
        else:
            out[k] = grads[k].reshape(())
    return out


def _array(value, dtype, shape, name):
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold numbers, not {array.dtype}")
    array = array.astype(dtype, copy=False)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    return array


def _sigmoid(z, out=None, work=None):
    """1/(1 + exp(-z)) into out (work: a scratch array like z); no overflow, subnormals kept."""
    if out is None:
        out = np.empty_like(z)
    e = np.empty_like(z) if work is None else work
    np.multiply(z, -1, out=e)  # not negative(): see "A NumPy defect" in the docs
    with np.errstate(over="raise"):  # detected by the exp itself: no pass to look for it
        try:
            np.exp(e, out=e)
        except FloatingPointError:  # z < -709 (float64), -88 (float32): exp(-z) overflows;
            e = np.exp(np.abs(z) * -1)  # there sigmoid(z) = exp(z)/(1 + exp(z)), subnormal or 0
            out[...] = np.where(z >= 0, 1, e) / (1 + e)
            return out
    e += 1
    np.divide(1, e, out=out)
    return out


def _hard_sigmoid(z, alpha, beta, out=None):
    """max(0, min(1, alpha z + beta)), written into out."""
    if out is None:
        out = np.empty_like(z)
    np.multiply(z, alpha, out=out)
    out += beta
    np.clip(out, 0, 1, out=out)
    return out
