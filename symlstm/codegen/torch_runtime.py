"""The runtime of a generated PyTorch module: real code that the generator inlines.

:func:`symlstm.codegen.torch_code.generate_torch` writes a module in three parts: the
constants and the ``shapes`` function it prints from the step plan, the element-wise step
``_step`` it prints from the plan, and the functions below, copied verbatim (the generator
reads this file's source; it does not import it, so printing a module needs no torch). The
functions below are the same for every variant: the time loop with its matrix products, the
argument checks and the projection h = W_hr m. Gradients come from torch autograd.

The names in the first section stand in for what a generated module prints (they make this
module importable and checkable on its own); the generator does not copy them. Nothing here
is part of the API.

>>> PROJECTION, _step.__doc__.endswith("(printed from the plan).")
(False, True)
"""

try:
    import torch
except ImportError:  # the package imports without torch; a generated module needs it
    torch = None

#: Internal to the generator: see the module's docstring.
__all__: list[str] = []

# -- Stand-ins: a generated module prints these from the step plan ------------------------------

#: The gates in the order of their blocks in the stacked weights.
GATES: tuple[str, ...] = ("i", "f", "o", "g")
#: The parameters' names, as params must hold them.
PARAMETERS: tuple[str, ...] = ()
#: Whether h = W_hr m (PyTorch's proj_size).
PROJECTION = False


def shapes(hidden, input, proj=None):
    """The shape of every parameter (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


def _step(a, c_prev, p):
    """One step, element-wise, from a_k and c_(t-1) to h (m) and c (printed from the plan)."""
    raise NotImplementedError("printed by the generator")


# -- The runtime: copied into every generated module ------------------------------------------


def forward(params, x, h0=None, c0=None):
    """Run the cell over x (T, batch, input) from h0, c0 (batch, hidden; zeros if None).

    Returns y (T, batch, hidden: every h_t), h_T and c_T; differentiable by autograd.
    """
    p, x, h0, c0 = _prepare(params, x, h0, c0)
    T, B, _ = x.shape
    n = c0.shape[1]
    W = torch.cat([p["W_" + k] for k in GATES])  # (len(GATES) n, m)
    UT = torch.cat([p["U_" + k] for k in GATES]).t()
    b = torch.cat([p["b_" + k] for k in GATES])
    WhrT = p["W_hr"].t() if PROJECTION else None
    # The input projections of all steps, the bias included, in one matmul
    A = torch.addmm(b, x.reshape(T * B, x.shape[2]), W.t()).reshape(T, B, len(GATES) * n)
    h, c = h0, c0
    ys = []
    for t in range(T):
        # a_k = W_k x_t + U_k h_(t-1) + b_k for every gate: one matmul
        a = torch.addmm(A[t], h, UT)
        if PROJECTION:
            m, c = _step(a, c, p)
            h = torch.matmul(m, WhrT)  # h = W_hr m
        else:
            h, c = _step(a, c, p)
        ys.append(h)
    y = torch.stack(ys) if ys else x.new_zeros((0, B, h0.shape[1]))
    return y, h, c


def _prepare(params, x, h0, c0):
    x = torch.as_tensor(x)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"x must be float32 or float64, not {x.dtype}")
    if x.dim() != 3:
        raise ValueError(f"x must be (T, batch, input), not of shape {tuple(x.shape)}")
    missing = [k for k in PARAMETERS if k not in params]
    if missing:
        raise KeyError(f"missing parameters: {', '.join(missing)}")
    unknown = [k for k in params if k not in PARAMETERS]
    if unknown:
        raise KeyError(f"unknown parameters: {', '.join(unknown)}; known: {PARAMETERS}")
    n, m = params["U_" + GATES[0]].shape[0], x.shape[2]
    q = params["W_hr"].shape[0] if PROJECTION else n  # the width of h
    sizes = (n, m, q) if PROJECTION else (n, m)
    p = {k: _tensor(params[k], x, v, k) for k, v in shapes(*sizes).items()}
    B = x.shape[1]
    h0 = x.new_zeros((B, q)) if h0 is None else _tensor(h0, x, (B, q), "h0")
    c0 = x.new_zeros((B, n)) if c0 is None else _tensor(c0, x, (B, n), "c0")
    return p, x, h0, c0


def _tensor(value, like, shape, name):
    tensor = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if tuple(tensor.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {tuple(shape)}")
    return tensor
