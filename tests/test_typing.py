"""Users' type checkers see tokenmill's real types through the lazy package front.

``tokenmill/__init__.py`` resolves names on first use (PEP 562), which a type checker cannot
follow; its ``TYPE_CHECKING`` block names the same objects. These tests run ``mypy --strict`` on a
small user script and read ``reveal_type``'s answers, and check that the block and the lazy table
name the same objects.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tokenmill

pytest.importorskip("mypy")

USER_SCRIPT = """
import numpy as np
import numpy.typing as npt
import tokenmill as tm

enc = tm.get_encoding("o200k_base")
reveal_type(enc)
reveal_type(enc.count("hello"))
reveal_type(enc.count_batch(["a", "b"]))
est = tm.estimate_cost("hello", model="gpt-4o", output_tokens=5)
reveal_type(est)
reveal_type(est.total_cost)
row = np.zeros(8, dtype=np.float32)
rows = np.zeros((2, 8), dtype=np.float32)
reveal_type(tm.sample(row, temperature=0.7, seed=1))
reveal_type(tm.sample(rows, top_k=5, seed=1))
reveal_type(tm.sample(rows, seed=1, return_logprobs=True).tokens)
def unknown(x: npt.NDArray[np.float32]) -> None:
    reveal_type(tm.sample(x, seed=1))
reveal_type(tm.sample(rows.reshape(-1), seed=1))
reveal_type(tm.sample([0.5, 1.5], seed=1))
reveal_type(tm.sample(rows, seed=1, logprobs="raw"))
reveal_type(tm.Usage.from_openai(10, 2))
reveal_type(tm.compute_optimal(1e23).n_params)
"""


def _revealed(tmp_path: Path) -> list[str]:
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    # reveal_type notes are not errors; anything else is
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert not errors, done.stdout
    # mypy names builtins with or without the module, depending on its version
    found = re.findall(r'note: Revealed type is "(.*)"', done.stdout)
    return [t.removeprefix("builtins.") for t in found]


def test_mypy_strict_sees_concrete_types(tmp_path: Path) -> None:
    revealed = _revealed(tmp_path)
    assert len(revealed) == 14, revealed
    enc, count, counts, est, total, one, batch, tokens = revealed[:8]
    unknown, flat, listed, result, usage, n_params = revealed[8:]
    assert enc == "tokenmill.tokenizer.Encoding"
    assert count == "int"
    assert counts.startswith("numpy.ndarray[") and re.search(r"int64|_64Bit", counts), counts
    assert est == "tokenmill.cost.usage.CostEstimate"
    assert total == "decimal.Decimal"
    assert one == "int"  # one row of logits: one token id
    for arr in (batch, tokens):  # a batch: an int64 array
        assert arr.startswith("numpy.ndarray[") and re.search(r"int64|_64Bit", arr), arr
    # An array whose shape the checker does not know may be one row or a batch: either result.
    for either in (unknown, listed):
        assert either.startswith("int | numpy.ndarray[") and "int64" in _int64(either), either
    assert flat == "int"  # reshape(-1) is 1-D for numpy's shape typing
    assert result.endswith("fallback=tokenmill.sampling.SampleResult]"), result
    assert usage == "tokenmill.cost.usage.Usage"
    assert n_params == "float"
    assert not [r for r in revealed if r == "Any"], revealed


def _int64(t: str) -> str:
    """``t`` with mypy's spelling of numpy's 64-bit integer type normalised to ``int64``."""
    return re.sub(r"numpy\.signedinteger\[numpy\._typing\._nbit_base\._64Bit\]", "int64", t)


def _type_checking_names() -> dict[str, str]:
    """name -> module of every import in the front's ``if TYPE_CHECKING:`` block."""
    source = Path(tokenmill.__file__).read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module is not None
                for alias in stmt.names:
                    names[alias.asname or alias.name] = stmt.module
    return names


def test_type_checking_block_matches_the_lazy_table() -> None:
    declared = _type_checking_names()
    assert declared == tokenmill._LAZY
    for name, module in declared.items():
        assert getattr(tokenmill, name) is getattr(importlib.import_module(module), name)


def test_every_public_name_resolves() -> None:
    for name in tokenmill.__all__:
        assert getattr(tokenmill, name) is not None, name
    assert set(tokenmill._LAZY) <= set(tokenmill.__all__)
