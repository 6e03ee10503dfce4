"""Writing several output files all-or-nothing.

A command that writes a set of files (``report --out DIR``) writes each into a temporary
directory next to its destination first, checks every destination can be replaced, then moves
the files into place with ``os.replace`` (atomic per file). If anything fails before the moves,
no destination is touched and the temporary files are removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_together"]


def write_together(out_dir: Path, writers: list[Callable[[Path], list[Path]]]) -> list[Path]:
    """Run every writer with a temporary directory; move what they wrote into ``out_dir``.

    Each writer writes files into the directory it is given and returns their paths. Returns the
    final paths. Raises (leaving ``out_dir`` as it was) if a writer fails or a destination is a
    directory.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tokenmill-", dir=out_dir))
    try:
        staged: list[Path] = []
        for write in writers:
            staged += write(staging)
        targets = [out_dir / p.relative_to(staging) for p in staged]
        for target in targets:
            if target.is_dir():
                raise IsADirectoryError(f"{target} is a directory; nothing was written")
        for src, target in zip(staged, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, target)
        return targets
    finally:
        shutil.rmtree(staging, ignore_errors=True)
