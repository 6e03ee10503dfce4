"""The binding crate hands work to the Rust cores in one place, so a panic (a bug) always becomes
``RuntimeError`` through ``errors::panic_error`` and never ``pyo3_runtime.PanicException``.

``rust/py/src/pool.rs`` holds the only code that releases the GIL or enters the thread pool, and
each of its helpers runs the work under ``guarded`` (``catch_unwind``). These tests read the
binding sources: a new ``py.detach`` or ``pool.install`` written anywhere else would bypass the
net, as ``BatchSampler.sample`` once did with ``p.install``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "rust" / "py" / "src"
#: Calls that run work with the GIL released or on the pool.
ENTRY = re.compile(r"\.(detach|install|in_place_scope|allow_threads)\s*\(|catch_unwind")

pytestmark = pytest.mark.skipif(not SRC.is_dir(), reason="needs the source checkout")


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, code) without comments."""
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("//", 1)[0]
        if code.strip():
            out.append((i, code))
    return out


def test_only_pool_rs_releases_the_gil_or_enters_the_pool() -> None:
    files = sorted(SRC.glob("*.rs"))
    assert len(files) >= 5
    offenders = [
        f"{path.name}:{i}: {code.strip()}"
        for path in files
        if path.name != "pool.rs"
        for i, code in _code_lines(path)
        if ENTRY.search(code)
    ]
    assert not offenders, "go through the pool helpers (pool::here, pool::run, ...):\n" + "\n".join(
        offenders
    )


def test_every_public_pool_helper_runs_its_work_guarded() -> None:
    code = "\n".join(c for _, c in _code_lines(SRC / "pool.rs"))
    # one chunk per top-level item: a function runs from its `fn` line to the next item
    items = re.split(r"\n(?=(?:pub )?(?:fn|static|const|struct|extern|use) )", code)
    helpers = {
        m.group(1): body
        for body in items
        if (m := re.match(r"pub fn (\w+)", body)) and ENTRY.search(body)
    }
    want = {"guarded", "run", "run_interruptible", "here", "run_inline_if"}
    assert want <= set(helpers), sorted(helpers)
    for name, body in helpers.items():
        if name == "guarded":
            assert "catch_unwind(" in body and "errors::panic_error" in body
        else:
            assert "guarded(" in body, f"pool::{name} runs work without catch_unwind"
