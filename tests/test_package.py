"""The package contract: version agreement, CLI basics, stub file, import cost."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import tokenmill

ROOT = Path(__file__).resolve().parents[1]


def test_version_matches_cargo_and_pyproject() -> None:
    """One version number: Cargo.toml's; pyproject declares it dynamic and maturin copies it."""
    from importlib.metadata import version

    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert tokenmill.__version__ == cargo["workspace"]["package"]["version"]
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert version("tokenmill") == tokenmill.__version__


def test_declared_python_is_the_one_tested() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert sys.version_info >= (3, 11)


def test_all_names_resolve() -> None:
    for name in tokenmill.__all__:
        assert getattr(tokenmill, name) is not None, name


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = tokenmill.no_such_thing  # type: ignore[attr-defined]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmill", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_help_and_version() -> None:
    helped = _cli("--help")
    assert helped.returncode == 0, helped.stderr
    assert "usage: tokenmill" in helped.stdout
    version = _cli("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"tokenmill {tokenmill.__version__}"


def test_cli_unknown_subcommand_fails_with_one_line() -> None:
    result = _cli("frobnicate")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "frobnicate" in result.stderr
    assert "tokenmill --help" in result.stderr


def test_cli_info_json() -> None:
    import json

    result = _cli("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["version"] == tokenmill.__version__
    assert info["simd"] in {"avx512", "avx2", "neon", "scalar"}
    # What this CPU can run is compiled in, and the chosen level is the widest of those.
    assert info["simd_usable"][0] == info["simd"]
    assert set(info["simd_usable"]) <= set(info["simd_compiled"])
    assert info["simd_compiled"][-1] == "scalar"
    assert info["target"].startswith(platform.machine())
    assert info["commit"]
    # the session's table cache (tests/conftest.py sets TOKENMILL_CACHE_DIR)
    assert info["table_cache"] == os.environ["TOKENMILL_CACHE_DIR"]
    off = subprocess.run(
        [sys.executable, "-m", "tokenmill", "info"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TOKENMILL_CACHE_DIR": ""},
    )
    assert "table cache  off" in off.stdout
    from importlib import metadata

    wheel = metadata.distribution("tokenmill").read_text("WHEEL") or ""
    for tag in info["wheel_tags"]:
        assert tag in wheel


def test_stub_file_matches_native_module() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "tokenmill._native"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_loads_only_numpy_and_extension() -> None:
    """`import tokenmill` loads the extension alone; the inference path adds numpy only."""
    code = (
        "import sys; before = set(sys.modules); import tokenmill; "
        "after_import = set(sys.modules); tokenmill.sample; tokenmill.get_encoding; "
        "print(' '.join(sorted(after_import - before))); "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    lines = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    on_import, on_use = lines[0].split(), lines[1].split()

    def third_party(mods: list[str]) -> set[str]:
        return {m.split(".")[0] for m in mods} - set(sys.stdlib_module_names)

    assert third_party(on_import) == {"tokenmill"}, on_import
    assert third_party(on_use) <= {"numpy", "tokenmill"}, on_use
    assert "numpy" in third_party(on_use)
    lazy = r"tokenmill\.(cost|report|scaling|cli|pricing|bench)"
    assert not [m for m in on_use if re.match(lazy, m)]


def test_thread_count_is_settable_and_validated() -> None:
    before = tokenmill.get_num_threads()
    assert before >= 1
    try:
        tokenmill.set_num_threads(1)
        assert tokenmill.get_num_threads() == 1
        with pytest.raises(ValueError, match="n must be >= 1"):
            tokenmill.set_num_threads(0)
    finally:
        tokenmill.set_num_threads(before)
    assert tokenmill.get_num_threads() == before
