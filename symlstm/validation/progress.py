"""Progress on a terminal while validate runs: a bar per unit of the network (and per
pass, forward then backward, with gradients), drawn on stderr only when stderr is a
terminal; the reference's steps are drawn inside it."""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from symlstm.certified.run import ReferenceResult, reference
from symlstm.errors import ArgumentError
from symlstm.progress import StatusLine, Throttle, listening, stderr_is_terminal

__all__ = ["ProgressBar"]

# -- progress on a terminal -----------------------------------------------------------------------


class ProgressBar:
    """validate's progress bar: one line on a stream, per unit of the network and per step.

    While a unit's certified reference runs (:meth:`capturing`), the reference reports
    its steps to :meth:`step` (:func:`symlstm.progress.listening`), drawn inside the bar
    with the unit and the whole run's share done once the unit has run for
    ``STEP_DELAY`` seconds, at most five times a second; anything written to stderr
    meanwhile (a warning) clears the bar and goes to the stream as it is.
    :func:`validate` shows one when stderr is a terminal (or ``progress=True``), and
    nothing otherwise.

    Parameters
    ----------
    stream
        Where the bar is drawn (stderr), rewritten in place with ``\\r``.
    units
        How many reference runs the validation makes: a network's units, twice with
        gradients (forward, then backward through the stack).
    width
        The bar's width in characters.
    columns
        The line's width limit; None: the terminal's.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(out, units=2, columns=100)
    >>> bar.unit("layer 0 forward")
    >>> bar.step("forward", 5, 10, "at 128 bits", now=True)
    >>> out.getvalue().split("\\r")[-1].replace("\\x1b[K", "")
    'symlstm [###.........] 25% 1/2 layer 0 forward: forward 5/10 at 128 bits'
    >>> bar.close()
    """

    #: Seconds a unit's reference runs before its steps are drawn in the bar.
    STEP_DELAY = 2.0

    def __init__(
        self, stream: TextIO, units: int, *, width: int = 12, columns: int | None = None
    ) -> None:
        if not hasattr(stream, "write"):
            raise ArgumentError(f"stream must have a write method, not {type(stream).__name__}")
        for name, value in (("units", units), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{name} must be a positive integer, not {value!r}")
        if columns is not None and (
            isinstance(columns, bool) or not isinstance(columns, int) or columns < 1
        ):
            raise ArgumentError(f"columns must be a positive integer or None, not {columns!r}")
        self.units, self.width, self.columns = units, width, columns
        self.line = StatusLine(stream)
        self.done, self.label, self.share, self.detail = 0, "", 0.0, ""
        self.gradients = False
        self.throttle = Throttle(delay=self.STEP_DELAY)

    @property
    def stream(self) -> Any:
        return self.line.stream

    def unit(self, label: str, *, gradients: bool = False) -> None:
        """A unit's reference starts (``gradients``: it runs forward, then backward)."""
        if not isinstance(label, str):
            raise ArgumentError(f"label must be a string, not {type(label).__name__}")
        if self.label:
            self.done = min(self.done + 1, self.units - 1)
        self.label, self.share, self.detail, self.gradients = label, 0.0, "", gradients
        self.throttle = Throttle(delay=self.STEP_DELAY)
        self.draw()

    def step(self, phase: str, t: int, steps: int, detail: str = "", *, now: bool = False) -> None:
        """The unit's reference has done step ``t`` of ``steps`` of ``phase`` ("forward",
        "backward", or another such as "first row"); ``detail`` follows it ("at 128
        bits"). Drawn through the throttle, or at once with ``now``."""
        if phase in ("forward", "backward"):
            within = t / max(steps, 1)
            if self.gradients:
                within = within / 2 + (0.5 if phase == "backward" else 0.0)
            self.share = min(max(within, 0.0), 1.0)
        self.detail = f"{phase} {t}/{steps}" + (f" {detail}" if detail else "")
        if now or self.throttle():
            self.draw()

    def draw(self) -> None:
        """Redraw the line."""
        share = (self.done + self.share) / self.units
        filled = round(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        head = f"symlstm [{bar}] {share:.0%} {self.done + 1}/{self.units} {self.label}"
        line = f"{head}: {self.detail}" if self.detail else head
        columns = self.columns or shutil.get_terminal_size((80, 24)).columns
        room = max(columns - 1, 20)
        if len(line) > room:  # the working precision goes first, then the line's end
            line = re.sub(r",? at \d+ bits", "", line)
        self.line.draw(line[:room])

    def write(self, text: str) -> int:
        """Text written to stderr while the bar is up: the bar is cleared, the text passed on."""
        if not isinstance(text, str):
            raise ArgumentError(f"text must be a string, not {type(text).__name__}")
        self.clear()
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()

    def isatty(self) -> bool:
        return True

    def clear(self) -> None:
        """Erase the line (it is drawn again at the next progress)."""
        self.line.clear()

    def close(self) -> None:
        """Erase the line at the end."""
        self.clear()

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Inside the block the reference reports its steps to the bar, and ``sys.stderr``
        is the bar (text written there clears it first)."""
        with listening(self.step), contextlib.redirect_stderr(self):  # type: ignore[type-var]
            yield


def progress_bar(progress: bool | None, units: int) -> ProgressBar | None:
    """The bar validate shows: with ``progress=True``, or None and stderr a terminal."""
    if progress is None:
        progress = stderr_is_terminal()
    return ProgressBar(sys.stderr, units) if progress else None


def run_reference(bar: ProgressBar | None, *args: Any, **kwargs: Any) -> ReferenceResult:
    """:func:`reference`, its progress lines drawn in the bar (none without one)."""
    if bar is None:
        return reference(*args, progress=False, **kwargs)
    with bar.capturing():
        return reference(*args, progress=True, **kwargs)
