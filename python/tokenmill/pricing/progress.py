"""A small stderr progress bar (no tqdm dependency).

Redraws at most every ``interval`` seconds with a carriage return; shows bytes (or rows) done, the
percentage when the total is known, rows and throughput. ``close()`` ends the line. Disabled bars
do nothing, so callers never branch on whether one is shown.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # unreachable; keeps mypy happy


class Progress:
    """``Progress(total_bytes)``; call ``update(bytes_done, rows_done)``, then ``close()``."""

    def __init__(
        self,
        total_bytes: int | None,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        label: str = "counting",
        interval: float = 0.1,
        width: int = 24,
    ) -> None:
        self.total = total_bytes if total_bytes and total_bytes > 0 else None
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.interval = interval
        self.width = width
        self.start = time.monotonic()
        self.last = 0.0
        self.done = 0
        self.rows = 0
        self.drawn = False
        self.width_drawn = 0

    def update(self, bytes_done: int, rows_done: int, *, force: bool = False) -> None:
        self.done, self.rows = bytes_done, rows_done
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        line = self.render(now)
        self.stream.write("\r" + line.ljust(self.width_drawn))
        self.width_drawn = len(line)
        self.stream.flush()
        self.drawn = True

    def render(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else time.monotonic()) - self.start, 1e-9)
        rate = f"{_human_bytes(self.done / elapsed)}/s"
        rows = f"{self.rows:,} rows"
        if self.total is None:
            return f"{self.label}: {_human_bytes(self.done)} {rows} {rate}"
        frac = min(self.done / self.total, 1.0)
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        return (
            f"{self.label} [{bar}] {frac * 100:5.1f}% "
            f"{_human_bytes(self.done)}/{_human_bytes(self.total)} {rows} {rate}"
        )

    def close(self) -> None:
        if not self.enabled:
            return
        self.update(self.done, self.rows, force=True)
        self.stream.write("\n")
        self.stream.flush()
