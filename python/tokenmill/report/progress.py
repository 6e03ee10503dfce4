"""A dependency-free progress bar on stderr (off when stderr is not a terminal unless forced)."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Counts work units and redraws one line at most ten times a second.

    ``enabled=None`` turns the bar on only when ``stream`` is a terminal; ``TOKENMILL_PROGRESS=1``
    forces it on and ``TOKENMILL_PROGRESS=0`` off.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            env = os.environ.get("TOKENMILL_PROGRESS")
            if env is not None:
                enabled = env not in ("", "0", "false", "no")
            else:
                isatty = getattr(self.stream, "isatty", None)
                enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self._start = time.perf_counter()
        self._last = 0.0
        self._width = 0

    def set_label(self, label: str) -> None:
        self.label = label

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last >= 0.1 or self.done >= self.total:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        width = 30
        frac = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        filled = round(frac * width)
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        bar = "#" * filled + "-" * (width - filled)
        line = (
            f"\r{self.label[:28]:<28} [{bar}] {frac * 100:5.1f}%  "
            f"{self.done:,}/{self.total:,}  {rate:,.0f}/s"
        )
        pad = max(self._width - len(line), 0)  # clear what a longer previous line left
        self._width = len(line)
        self.stream.write(line + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
