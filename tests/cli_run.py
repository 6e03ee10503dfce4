"""Running the ``tokenmill`` command in a fresh interpreter, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli(
    *args: str,
    stdin: str | None = "",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m tokenmill ARGS`` with ``stdin`` as its input: exit code, stdout and stderr as
    UTF-8 text; ``env`` is added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "tokenmill", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
    )
