"""Views of the cell and its traces: LaTeX, Markdown and plain text.

Printers are SymPy printer subclasses (:mod:`symlstm.render.printers`); the
renderers here arrange what they print.
"""

from symlstm.render.printers import LSTMLatexPrinter, LSTMTextPrinter, latex, text

__all__ = ["LSTMLatexPrinter", "LSTMTextPrinter", "latex", "text"]
