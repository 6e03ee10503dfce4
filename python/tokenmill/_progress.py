"""The one progress bar: a dependency-free line on stderr (no tqdm).

``enabled=None`` shows the bar only when the stream is a terminal; ``TOKENMILL_PROGRESS=1`` (or
``always``) forces it on and ``TOKENMILL_PROGRESS=0`` (or ``never``) off (an explicit ``enabled``
wins over both). The line is
redrawn with a carriage return at most every ``interval`` seconds and ends with a newline on
``close()``; a disabled bar writes nothing, so callers never branch on whether one is shown.

Work is counted in ``unit``\\ s: ``"items"`` (sentences, rows) or ``"bytes"`` (shown as kB/MB, with
a separate row count). ``update(n)`` adds to the count; ``moveto(done, rows=...)`` sets it.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Literal, TextIO

__all__ = ["Progress", "progress_enabled"]

Unit = Literal["items", "bytes"]


# TOKENMILL_PROGRESS values, with the words of the CLI's --progress {always,never,auto}; any other
# value (``auto`` among them) leaves the choice to the stream.
_ON = frozenset({"1", "true", "yes", "on", "always"})
_OFF = frozenset({"", "0", "false", "no", "off", "never"})


def progress_enabled(stream: TextIO, enabled: bool | None = None) -> bool:
    """``enabled``, else ``TOKENMILL_PROGRESS``, else whether ``stream`` is a terminal."""
    if enabled is not None:
        return enabled
    env = os.environ.get("TOKENMILL_PROGRESS", "auto").strip().lower()
    if env in _ON:
        return True
    if env in _OFF:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Progress:
    """Counts work and redraws one line on ``stream`` at most every ``interval`` seconds."""

    def __init__(
        self,
        total: int | None,
        label: str = "",
        *,
        unit: Unit = "items",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float = 0.1,
        width: int = 30,
    ) -> None:
        unknown = None if unit == "bytes" else 0  # an empty byte total is shown as unknown
        self.total = int(total) if total is not None and total > 0 else unknown
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = progress_enabled(self.stream, enabled)
        self.interval = interval
        self.width = width
        self.done = 0
        self.rows = 0
        self._start = time.perf_counter()
        self._last = 0.0
        self._drawn = 0

    def set_label(self, label: str) -> None:
        self.label = label

    def update(self, n: int = 1) -> None:
        """Add ``n`` units of work."""
        self.moveto(self.done + n)

    def moveto(self, done: int, rows: int | None = None) -> None:
        """Set the work done (and, for a byte bar, the rows read)."""
        self.done = done
        if rows is not None:
            self.rows = rows
        if not self.enabled:
            return
        now = time.perf_counter()
        finished = self.total is not None and self.done >= self.total
        if now - self._last >= self.interval or finished:
            self._last = now
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The bar's current line (without the carriage return)."""
        elapsed = max((time.perf_counter() if now is None else now) - self._start, 1e-9)
        rate = self.done / elapsed
        if self.unit == "bytes":
            amount = _human_bytes(self.done)
            if self.total is not None:
                amount += f"/{_human_bytes(self.total)}"
            tail = f"{amount}  {self.rows:,} rows  {_human_bytes(rate)}/s"
        else:
            amount = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
            tail = f"{amount}  {rate:,.0f}/s"
        label = f"{self.label[:28]:<28} " if self.label else ""
        if self.total is None:
            return f"{label}{tail}"
        frac = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        filled = round(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        return f"{label}[{bar}] {frac * 100:5.1f}%  {tail}"

    def _draw(self, now: float) -> None:
        line = self.render(now)
        self.stream.write("\r" + line.ljust(self._drawn))  # pad over a longer previous line
        self._drawn = len(line)
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (nothing when disabled)."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
