"""Progress on a terminal: one status line, rewritten in place at most five times a second.

Every long operation reports progress this one way: the work budget's step line
(:func:`symlstm.budget.work`), the certified reference's line
(:func:`symlstm.certified.run.reference`) and validate's bar
(:class:`symlstm.validation.progress.ProgressBar`) draw a :class:`StatusLine` and share
its :class:`Throttle`. A reference run inside :func:`listening` reports its steps to the
listener (validate's bar) instead of drawing its own line.

>>> import io
>>> out = io.StringIO()
>>> line = StatusLine(out)
>>> line.show("step 1/3")
>>> line.show("step 2/3")  # within 0.2 s of the last: not drawn
>>> line.show("step 3/3", final=True)
>>> line.close()
>>> out.getvalue().split("\\r\\x1b[K")
['', 'step 1/3', 'step 3/3', '']
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__: list[str] = []  # shared by the modules that show progress, not part of the API

#: Seconds between two redraws of a status line, at least.
INTERVAL = 0.2
#: A carriage return and an erase to the line's end: the start of every redraw.
ERASE = "\r\x1b[K"


def stderr_is_terminal() -> bool:
    """Whether ``sys.stderr`` is a terminal (False where it is None, closed, or has no
    ``isatty``, as under pythonw or a redirected service)."""
    try:
        return sys.stderr is not None and bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


class Throttle:
    """True at most once every ``interval`` seconds, and only once ``delay`` seconds
    have passed since it was made; a ``final`` call (the last step) is never held back
    by the interval.

    >>> throttle = Throttle()
    >>> throttle(), throttle(), throttle(final=True)
    (True, False, True)
    """

    def __init__(self, interval: float = INTERVAL, delay: float = 0.0) -> None:
        self.interval, self.delay = interval, delay
        self.started, self.last = time.monotonic(), -math.inf

    def __call__(self, final: bool = False) -> bool:
        now = time.monotonic()
        if now - self.started < self.delay:
            return False
        if now - self.last < self.interval and not final:
            return False
        self.last = now
        return True


class StatusLine:
    """One line on ``stream`` (stderr by default), redrawn in place through a
    :class:`Throttle` and erased by :meth:`close` once it has been drawn. A stream that
    fails to write (closed, or a broken pipe) is left alone."""

    def __init__(
        self, stream: Any = None, *, delay: float = 0.0, interval: float = INTERVAL
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.throttle = Throttle(interval, delay)
        self.shown = False

    def show(self, text: str, *, final: bool = False) -> None:
        """Draw ``text`` unless the throttle holds it back."""
        if self.throttle(final):
            self.draw(text)

    def draw(self, text: str) -> None:
        """Draw ``text`` now."""
        self._write(ERASE + text)
        self.shown = True

    def clear(self) -> None:
        """Erase the line if it was drawn (it is drawn again at the next :meth:`show`)."""
        if self.shown:
            self._write(ERASE)
            self.shown = False

    close = clear

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.stream.write(text)
            self.stream.flush()


#: What a certified reference reports its steps to: ``(phase, done, steps, detail)``.
Listener = Callable[[str, int, int, str], None]

_LISTENER: contextvars.ContextVar[Listener | None] = contextvars.ContextVar(
    "symlstm_progress_listener", default=None
)


def listener() -> Listener | None:
    """The listener of the innermost :func:`listening` block (None outside one)."""
    return _LISTENER.get()


@contextlib.contextmanager
def listening(report: Listener) -> Iterator[None]:
    """Inside the block, a certified reference reports its steps to ``report`` as
    ``(phase, done, steps, detail)`` (phase "forward" or "backward"; detail such as
    ``"at 128 bits"``) and draws no line of its own.

    >>> seen = []
    >>> with listening(lambda *step: seen.append(step)):
    ...     listener()("forward", 1, 3, "at 128 bits")
    >>> seen, listener() is None
    ([('forward', 1, 3, 'at 128 bits')], True)
    """
    token = _LISTENER.set(report)
    try:
        yield
    finally:
        _LISTENER.reset(token)
