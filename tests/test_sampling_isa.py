"""The sampling exactness checks on every kernel set this CPU runs, forced by TOKENMILL_SIMD.

Each ISA runs in a fresh process (the kernel table is chosen once per process): the softmax
relative-error test against float64 numpy and the kept-set tests against the sorting reference
of tests/test_sampling.py, with `TOKENMILL_SIMD` set to that ISA.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ISAS = (
    ["avx512", "avx2", "scalar"]
    if platform.machine().lower() in ("x86_64", "amd64")
    else ["neon", "scalar"]
)
PROBE = "import tokenmill; print(tokenmill.simd_level())"


def _run(args: list[str], simd: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOKENMILL_SIMD": simd}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _usable(simd: str) -> bool:
    out = _run(["-c", PROBE], simd, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == simd


def test_unknown_or_unusable_request_falls_back_with_a_warning() -> None:
    best = _run(["-c", PROBE], "auto", timeout=60).stdout.strip()
    assert best in ISAS
    out = _run(["-c", PROBE], "sse9", timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip() == best
    assert "TOKENMILL_SIMD=sse9 is not a known kernel set" in out.stderr
    assert f"using {best}" in out.stderr
    # A set this CPU cannot run (NEON on x86-64, AVX2 on aarch64) falls back the same way.
    other = "neon" if "neon" not in ISAS else "avx2"
    out = _run(["-c", PROBE], other, timeout=60)
    assert out.stdout.strip() == best
    assert f"TOKENMILL_SIMD={other} is not usable on this CPU" in out.stderr
    # A usable request is honoured without a word.
    out = _run(["-c", PROBE], "scalar", timeout=60)
    assert (out.stdout.strip(), out.stderr) == ("scalar", "")


@pytest.mark.parametrize("simd", ISAS)
def test_exactness_checks_under_forced_isa(simd: str) -> None:
    if not _usable(simd):
        pytest.skip(f"{simd} is not usable on this CPU")
    out = _run(
        [
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(HERE / "test_sampling.py"),
            "-k",
            "softmax_relative_error or kept_set_matches_reference or kept_set_batched"
            " or chi_square_on_kept_set or membership_random",
        ],
        simd,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and " failed" not in out.stdout
