"""Every CLI failure is one line on stderr and a non-zero exit; ``--debug`` shows the traceback.

Also: money is never Infinity, ``--json`` output is always valid JSON, empty input is reported,
and ``report --out`` writes all of its files or none.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cli_run import cli
from test_tokenizer_hf import _byte_level, _split, _synthetic, _write


def _one_line_failure(r: subprocess.CompletedProcess[str], *words: str) -> str:
    assert r.returncode != 0, r.stdout
    err = r.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "chat_int": tmp_path / "chat.json",
        "deep": tmp_path / "deep.json",
        "prices_list": tmp_path / "p1.json",
        "prices_int": tmp_path / "p2.json",
        "prices_huge": tmp_path / "p3.json",
        "text": tmp_path / "t.txt",
    }
    out["chat_int"].write_text('[{"role": "user", "content": "hi"}, 5]')
    out["deep"].write_text("[" * 100_000 + "]" * 100_000)
    out["prices_list"].write_text('{"gpt-4o": {"input": [1]}}')
    out["prices_int"].write_text('{"gpt-4o": 5}')
    out["prices_huge"].write_text('{"gpt-4o": {"input": "1e400000000", "output": "1"}}')
    out["text"].write_text("hello")
    return out


def test_bad_chat_json(files: dict[str, Path]) -> None:
    r = cli("cost", str(files["chat_int"]), "-m", "gpt-4o")
    _one_line_failure(r, "message 1", "int")
    # --debug and TOKENMILL_DEBUG show the traceback instead.
    assert "Traceback" in cli("--debug", "cost", str(files["chat_int"]), "-m", "gpt-4o").stderr
    r = cli("cost", str(files["chat_int"]), "-m", "gpt-4o", env={"TOKENMILL_DEBUG": "1"})
    assert "Traceback" in r.stderr


def test_deeply_nested_json(files: dict[str, Path]) -> None:
    _one_line_failure(cli("cost", str(files["deep"]), "-m", "gpt-4o"), "nested too deeply")


@pytest.mark.parametrize(
    ("which", "words"),
    [
        ("prices_list", ["gpt-4o", "input"]),
        ("prices_int", ["gpt-4o"]),
        ("prices_huge", ["1e400000000", "not plausible"]),
    ],
)
def test_bad_prices(files: dict[str, Path], which: str, words: list[str]) -> None:
    r = cli("cost", str(files["text"]), "-m", "gpt-4o", "--prices", str(files[which]))
    err = _one_line_failure(r, *words)
    assert "Infinity" not in r.stdout + err


def test_empty_stdin_is_no_input() -> None:
    _one_line_failure(cli("cost", "-", "-m", "gpt-4o", stdin=""), "no input")
    ok = cli("cost", "-", "-m", "gpt-4o", stdin="hello")
    assert ok.returncode == 0, ok.stderr


def test_missing_matplotlib_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from tokenmill.cli import main\n"
        "sys.exit(main(['scaling', 'isoflop', '--compute', '1e21', '--plot', sys.argv[1]]))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    _one_line_failure(r, "matplotlib", "tokenmill[report]")


def test_tokenizer_that_gives_up_is_one_line(tmp_path: Path) -> None:
    pre = {"type": "Sequence", "pretokenizers": [_split("(a|a)+$"), _byte_level()]}
    tok = _write(tmp_path, _synthetic(pre, []))
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"text": "a" * 30 + "!"}) + "\n")
    r = cli(
        "count", str(data), "--tokenizer", str(tok), "--on-error", "fail", "--progress", "never"
    )
    _one_line_failure(r, "(a|a)+$", "byte offset")


def test_deadline_nonsense_is_refused() -> None:
    args = ["scaling", "train", "--compute", "1e24", "--gpu", "h100-sxm", "--mfu", "0.4"]
    r = cli(*args, "--deadline-days", "1e-300", "--json")
    _one_line_failure(r, "not a plausible deadline")
    assert "Infinity" not in r.stdout
    ok = cli(*args, "--deadline-days", "30", "--json")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["n_gpus"] >= 1


def test_report_out_writes_all_files_or_none(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "report.json").mkdir(parents=True)  # one destination cannot be replaced
    args = ["report", "--languages", "fra_Latn", "--tokenizer", "cl100k_base", "--no-progress"]
    r = cli(*args, "--out", str(out))
    _one_line_failure(r, "report.json")
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    (out / "report.json").rmdir()
    r = cli(*args, "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = {p.name for p in out.iterdir()}
    assert {"report.json", "report.md", "report.csv", "report.txt"} <= names, names
    assert not [n for n in names if n.startswith(".tokenmill-")]


def _catalogue_prices(model: str) -> tuple[Decimal, Decimal]:
    """The model's input and output prices read straight from the bundled file, not through the
    catalogue code."""
    from tokenmill._data import read_text

    entry = json.loads(read_text("prices.json"))["models"][model]
    return Decimal(entry["input"]), Decimal(entry["output"])


def _expected_report_money(rows: list[dict[str, str]], model: str) -> dict[tuple[str, str], Any]:
    """Every money cell of a report's rows, computed here with Fractions: input cost = tokens ×
    price / 10⁶ (exact), per-1M-pivot cost = price × language tokens / pivot tokens rounded
    half-even to 12 decimal places. Only valid when every language shares all ids with the
    pivot (the built-in corpus), so the premium's totals are the rows' total tokens."""
    from fractions import Fraction

    price_in, price_out = _catalogue_prices(model)
    pivot = {r["tokenizer"]: int(r["total_tokens"]) for r in rows if r["language"] == "eng_Latn"}

    def rounded(q: Fraction) -> Decimal:
        # to 12 places, half-even, in integers over the exact fraction
        ctx = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.Inexact])
        scaled = q * 10**12
        floor = scaled.numerator // scaled.denominator
        rest = scaled - floor
        up = rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1)
        return ctx.divide(Decimal(floor + up), Decimal(10**12))

    out: dict[tuple[str, str], Any] = {}
    for r in rows:
        assert int(r["shared_ids"]) == int(r["sentences"]), r  # the premium is over every id
        tokens = int(r["total_tokens"])
        ratio = Fraction(tokens, pivot[r["tokenizer"]])
        out[(r["language"], r["tokenizer"])] = (
            Decimal(tokens) * price_in / Decimal(1_000_000),
            rounded(ratio * Fraction(price_in)),
            rounded(ratio * Fraction(price_out)),
        )
    return out


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_report_money_is_exact_decimal(fmt: str) -> None:
    model = "gpt-4.1-mini"
    r = cli("report", "--model", model, "--format", fmt, "--no-progress")
    assert r.returncode == 0, r.stderr
    if fmt == "json":
        doc = json.loads(r.stdout)
        rows = doc["rows"]
        price_in, price_out = _catalogue_prices(model)
        assert doc["metadata"]["pricing"]["input_per_1m"] == str(price_in)
        assert doc["metadata"]["pricing"]["output_per_1m"] == str(price_out)
    else:
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) > 60
    expected = _expected_report_money(rows, model)
    money = ("input_cost_usd", "input_cost_per_1m_pivot_usd", "output_cost_per_1m_pivot_usd")
    for row in rows:
        for cell in money:
            # a decimal string: no float was ever involved (floats would print 0.0018008000000000002
            # for 4502 tokens, or round the per-1M-pivot costs at another place)
            assert isinstance(row[cell], str) and "e" not in row[cell].lower(), row
        got = tuple(Decimal(row[cell]) for cell in money)
        assert got == expected[(row["language"], row["tokenizer"])], row


def test_cost_totals_are_summed_in_the_money_context() -> None:
    from decimal import Decimal, localcontext

    from tokenmill.cost.catalogue import MONEY, load_catalogue
    from tokenmill.cost.estimate import estimate_cost

    # 31 significant digits: exact in the 50-digit money context, rounded in the default 28.
    price = "0.1234567890123456789012345678901"
    cat = load_catalogue().with_overrides({"gpt-4o": {"input": price, "output": price}})
    est = estimate_cost("hello world", "gpt-4o", output_tokens=1_000_000, catalogue=cat)
    parts = [est.input_cost, est.cache_read_cost, est.cache_write_cost, est.output_cost]
    with localcontext(MONEY):
        want = sum(parts, Decimal(0)) + est.reasoning_cost
    assert est.output_cost == Decimal(price)
    assert est.total_cost == want
    assert (est + est).total_cost == MONEY.multiply(want, Decimal(2))
    # The default context would have rounded these sums.
    assert sum(parts, Decimal(0)) != want


def test_usage_errors_are_one_line() -> None:
    _one_line_failure(cli("cost", "x.txt"), "--model", "tokenmill cost --help")
    _one_line_failure(cli("nonsense"), "invalid choice")
    _one_line_failure(cli("scaling", "train", "--mfu", "x"), "--mfu")
