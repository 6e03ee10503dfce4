"""Report rendering (every format), the plot, the Python API surface and the CLI end to end."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tokenmill
from report_counters import WordCounter
from tokenmill.report.corpus import Corpus
from tokenmill.report.model import COLUMNS, ModelPricing, Report, token_length_report
from tokenmill.report.render import FORMATS, render, render_html

FIX = Path(__file__).parent / "fixtures" / "report"
OUT_FILES_TWO_TOKENIZERS = [
    *(f"report.{ext}" for ext in ("csv", "html", "json", "md", "txt")),
    *(f"report{part}.{ext}" for part in ("", "-scripts", "-scatter") for ext in ("png", "svg")),
]
HAS_ENCODINGS = hasattr(tokenmill, "get_encoding")
needs_encodings = pytest.mark.skipif(
    not HAS_ENCODINGS, reason="bundled encodings (tokenmill.get_encoding) not in this build"
)


class DoubleCounter:
    name = "double"

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([2 * len(t.split()) for t in texts], dtype=np.int64)


def small_report(pricing: ModelPricing | None = None) -> Report:
    rows = [
        ("eng_Latn", "1", "one two"),
        ("eng_Latn", "2", "three"),
        ("hin_Deva", "1", "एक दो तीन चार"),
        ("hin_Deva", "2", "पाँच छह"),
        ("hin_Deva", "3", ""),
        ("qqq_Zzzz", "1", "a|b c"),
    ]
    return token_length_report(
        Corpus.from_rows(rows, name="small"),
        tokenizers=[WordCounter(), DoubleCounter()],
        model=pricing,
    )


def test_table_is_sorted_by_premium_and_names_languages() -> None:
    text = render(small_report(), "table")
    lines = text.splitlines()
    body = [ln for ln in lines if ln.startswith(("Hindi", "English", "qqq_Zzzz"))]
    # hindi premium 6/3 = 2.0, qqq 2/2 = 1.0 (ties keep corpus order), english 1.0
    assert [ln.split()[0] for ln in body] == ["Hindi", "English", "qqq_Zzzz"]
    assert "2.00×" in body[0]
    assert "hin_Deva: 1 empty text(s)" in text
    assert "small sample" not in text  # only the built-in corpus is labelled a sample


def test_markdown_has_summary_and_a_table_per_tokenizer() -> None:
    md = render(small_report(ModelPricing("m", Decimal(1), Decimal(4))), "markdown")
    assert md.startswith("# Token-length report")
    assert "## Summary" in md and "## words" in md and "## double" in md
    assert "a\\|b" not in md  # texts are not printed; only numbers and names
    summary = md.split("## Summary")[1].split("## words")[0]
    table_lines = [ln for ln in summary.splitlines() if ln.startswith("|")]
    assert len(table_lines) == 2 + 3  # header, rule, one row per language
    cells = {ln.count("|") for ln in table_lines}
    assert len(cells) == 1  # a well-formed table: same number of cells per row
    assert "$/1M eng_Latn" in md


def test_csv_round_trips_every_row() -> None:
    rep = small_report()
    parsed = list(csv.DictReader(io.StringIO(render(rep, "csv"))))
    assert len(parsed) == len(rep.entries) == 6
    assert list(parsed[0]) == list(COLUMNS)
    hindi = next(r for r in parsed if r["language"] == "hin_Deva" and r["tokenizer"] == "words")
    assert float(hindi["premium"]) == pytest.approx(2.0)
    assert hindi["empty_texts"] == "1"
    assert hindi["input_cost_usd"] == ""  # no model: empty, not "None"


def test_json_carries_metadata_and_rows() -> None:
    rep = small_report(ModelPricing("m", Decimal("1.0")))
    doc = json.loads(render(rep, "json"))
    assert doc["metadata"]["pivot"] == "eng_Latn"
    assert doc["metadata"]["tokenizers"] == ["words", "double"]
    assert doc["metadata"]["pricing"]["input_per_1m"] == "1.0"  # money as an exact string
    money = {"input_cost_usd", "input_cost_per_1m_pivot_usd", "output_cost_per_1m_pivot_usd"}
    for row, want in zip(doc["rows"], rep.to_dicts(), strict=True):
        assert {k: v for k, v in row.items() if k not in money} == {
            k: v for k, v in want.items() if k not in money
        }
        for k in money:
            assert (None if row[k] is None else Decimal(row[k])) == want[k]
    assert any("empty" in w for w in doc["metadata"]["warnings"])


def test_html_is_a_standalone_escaped_page() -> None:
    rows = [("eng_Latn", "1", "a b"), ("<b>x", "1", "a b c")]
    rep = token_length_report(Corpus.from_rows(rows), tokenizers=[WordCounter()], info={})
    page = render_html(rep, svgs={})
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;b&gt;x" in page and "<b>x" not in page
    # summary, per-script aggregates, every row
    assert page.count("<table") == 3 and '<table id="rows">' in page
    assert "<svg" not in page and "<img" not in page


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(small_report(), "xml")


def test_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the report/test extras")
    from tokenmill.report.plot import dot_layout, plot_premium

    path = plot_premium(small_report(), tmp_path / "sub" / "p.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    width, height = png_size(data)
    # 150 dpi over the layout's inches: one column, a row per language
    lay = dot_layout(3)
    assert abs(width - 150 * lay.width_in) <= 1 and abs(height - 150 * lay.height_in) <= 1


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (checked to be one)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_api_is_lazy_and_exported() -> None:
    code = (
        "import sys, tokenmill; "
        "assert 'tokenmill.report' not in sys.modules; "
        "f = tokenmill.token_length_report; "
        "assert 'tokenmill.report' in sys.modules; "
        "assert f is tokenmill.report.token_length_report"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "token_length_report" in tokenmill.__all__
    assert tokenmill.Report is Report


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmill", "report", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_cli_unrecognised_corpus_is_a_clean_error(tmp_path: Path) -> None:
    done = _cli("--corpus", str(FIX / "unrecognised"))
    assert done.returncode == 2
    assert "Accepted layouts" in done.stderr
    assert "Traceback" not in done.stderr


@needs_encodings
def test_cli_bad_tokenizer_path_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tiktoken"
    bad.write_text("not base64 at all\n", encoding="utf-8")
    done = _cli("--tokenizer", str(bad), "--languages", "hin_Deva")
    assert done.returncode == 2
    assert "broken.tiktoken" in done.stderr and "failed to load" in done.stderr


@needs_encodings
@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_builtin_corpus_every_format(fmt: str) -> None:
    done = _cli("--format", fmt, "--model", "gpt-4o")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    if fmt == "json":
        doc = json.loads(out)
        assert doc["metadata"]["corpus_is_sample"] is True
        assert "--corpus" in doc["metadata"]["note"]
        langs = {r["language"] for r in doc["rows"]}
        assert len(langs) >= 31 and {r["tokenizer"] for r in doc["rows"]} == {
            "cl100k_base",
            "o200k_base",
        }
        eng = [r for r in doc["rows"] if r["language"] == "eng_Latn"]
        assert all(r["premium"] == 1.0 for r in eng)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert len(rows) >= 62
    else:
        assert "small sample" in out and "--corpus" in out
        assert "Burmese" in out and "cl100k_base" in out


@needs_encodings
def test_cli_out_dir_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    plot = tmp_path / "premium.png"
    done = _cli("--out", str(out), "--plot", str(plot), "--languages", "hin_Deva", "mya_Mymr")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(OUT_FILES_TWO_TOKENIZERS)
    for name in ("premium.png", "premium-scripts.png", "premium-scatter.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


@needs_encodings
def test_cli_flores_with_tokenizer_and_pivot() -> None:
    done = _cli(
        "--corpus",
        str(FIX / "flores"),
        "--split",
        "devtest",
        "--tokenizer",
        "o200k_base",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert {r["language"] for r in doc["rows"]} == {"eng_Latn", "mal_Mlym"}
    assert doc["metadata"]["corpus_is_sample"] is False


def test_progress_bar_forced_on_a_stream() -> None:
    from tokenmill._progress import Progress

    buf = io.StringIO()
    with Progress(10, "counting", enabled=True, stream=buf) as bar:
        bar.update(4)
        bar.update(6)
    text = buf.getvalue()
    assert "100.0%" in text and "10/10" in text and text.endswith("\n")
    quiet = io.StringIO()
    with Progress(10, enabled=None, stream=quiet) as bar:  # a StringIO is not a terminal
        bar.update(10)
    assert quiet.getvalue() == ""


def test_report_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [("eng_Latn", str(i), "a b") for i in range(5)]
    token_length_report(Corpus.from_rows(rows), tokenizers=[WordCounter()], progress=True, info={})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "5/5" in captured.err


def test_counter_returning_wrong_length_is_an_error() -> None:
    class Broken:
        name = "broken"

        def count_batch(self, texts: Sequence[str]) -> np.ndarray:
            return np.zeros(len(texts) + 1, dtype=np.int64)

    rows = [("eng_Latn", "1", "a")]
    with pytest.raises(ValueError, match="tokenizer 'broken' returned"):
        token_length_report(Corpus.from_rows(rows), tokenizers=[Broken()], info={})


def test_cli_plumbing_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every option reaches the report and every output is written (word-count tokenizers)."""
    pytest.importorskip("matplotlib")
    import tokenmill.report.model as model
    from tokenmill.cli import main

    monkeypatch.setattr(
        model, "resolve_tokenizer", lambda spec: WordCounter() if spec == "w" else DoubleCounter()
    )
    out = tmp_path / "out"
    code = main(
        [
            "report",
            "--corpus",
            str(FIX / "massive"),
            "--split",
            "dev",
            "--tokenizer",
            "w",
            "--tokenizer",
            "d",
            "--model",
            "gpt-4o",
            "--format",
            "json",
            "--out",
            str(out),
            "--plot",
            str(tmp_path / "p.png"),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["metadata"]["tokenizers"] == ["words", "double"]
    assert doc["metadata"]["pricing"]["model"] == "gpt-4o"
    assert {r["language"] for r in doc["rows"]} == {"eng_Latn", "hin_Deva", "xx-QQ"}
    hin = next(r for r in doc["rows"] if r["language"] == "hin_Deva" and r["tokenizer"] == "words")
    # dev ids 2 and 3: hindi 4 + 3 words over english 4 + 3 words
    assert hin["premium"] == pytest.approx(7 / 7)
    xx = next(r for r in doc["rows"] if r["language"] == "xx-QQ" and r["tokenizer"] == "words")
    assert xx["missing_in_pivot"] == 1 and xx["premium"] == pytest.approx(4 / 4)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUT_FILES_TWO_TOKENIZERS)
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "http" not in page.lower()
    hin = [r for r in doc["rows"] if r["language"] == "hin_Deva"]
    assert {r["corpus_code"] for r in hin} == {"hi-IN"}  # MASSIVE keeps its locale
    assert "hi-IN" in (out / "report.txt").read_text(encoding="utf-8")
    assert "xx-QQ: 1 id(s) have no eng_Latn counterpart" in (out / "report.txt").read_text(
        encoding="utf-8"
    )


def test_cli_draws_each_figure_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--plot, --out (SVG, PNG and the HTML page) and --format html share one drawing of each
    figure, and the inline SVGs of stdout's page are the ones written to report.html."""
    pytest.importorskip("matplotlib")
    import tokenmill.report.model as model
    import tokenmill.report.plot as plot
    from tokenmill.cli import main

    monkeypatch.setattr(
        model, "resolve_tokenizer", lambda spec: WordCounter() if spec == "w" else DoubleCounter()
    )
    calls: dict[str, int] = {}
    for name in ("_dot_figure", "_scripts_figure", "_scatter_figure"):
        real = getattr(plot, name)

        def counted(*args: object, _real: Any = real, _name: str = name) -> Any:
            calls[_name] = calls.get(_name, 0) + 1
            return _real(*args)

        monkeypatch.setattr(plot, name, counted)
    out = tmp_path / "out"
    args = ["report", "--corpus", str(FIX / "massive"), "--split", "dev", "--no-progress"]
    args += ["--tokenizer", "w", "--tokenizer", "d", "--format", "html", "--out", str(out)]
    code = main([*args, "--plot", str(tmp_path / "p.svg")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert calls == {"_dot_figure": 1, "_scripts_figure": 1, "_scatter_figure": 1}
    assert captured.out == (out / "report.html").read_text(encoding="utf-8")
    assert captured.out.count("<svg") == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(OUT_FILES_TWO_TOKENIZERS)
    for part in ("", "-scripts", "-scatter"):
        assert (tmp_path / f"p{part}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
