"""Numbers: exact rationals, interval and ball arithmetic, rounding, and evaluation.

The layer every numeric consumer stands on. :mod:`~symlstm.numeric.exact` turns
inputs into exact rationals, :mod:`~symlstm.numeric.intervals` holds certified
enclosures of the activations, :mod:`~symlstm.numeric.rounding` decides rounded
digits from enclosures (raising precision until decided; the one precision loop),
:mod:`~symlstm.numeric.contexts` is the one interface to the arithmetics (exact, mpmath,
intervals, Arb balls) with every function defined once, :mod:`~symlstm.numeric.compile`
compiles SymPy expressions to closures over a context (scalars or object arrays),
:mod:`~symlstm.numeric.sequence` is the one time loop, and
:mod:`~symlstm.numeric.evaluation` runs a cell over a sequence exactly, in mpmath or
in certified interval arithmetic (:class:`~symlstm.numeric.evaluation.Trace`).
"""
