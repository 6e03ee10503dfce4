"""``count_tokens`` / ``tokenmill count`` on the local engine, against tiktoken and numpy.

References: per-document counts from tiktoken (``disallowed_special=()``, content only), UTF-8
bytes and characters from Python, quantiles from ``numpy.percentile(method="inverted_cdf")``.
"""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_shards import corpus_rows, write_shards
from tokenmill.cli import main
from tokenmill.dataset import TokenHistogram, count_tokens, list_shards
from tokenmill.dataset.stats import Tally

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def reference(rows: list[dict[str, str]], encoding: str) -> dict[str, Any]:
    enc = tiktoken.get_encoding(encoding)
    counts = np.array([len(enc.encode(r["text"], disallowed_special=())) for r in rows])
    return {
        "documents": len(rows),
        "tokens": int(counts.sum()),
        "bytes": sum(len(r["text"].encode()) for r in rows),
        "characters": sum(len(r["text"]) for r in rows),
        "p50": int(np.percentile(counts, 50, method="inverted_cdf")),
        "p90": int(np.percentile(counts, 90, method="inverted_cdf")),
        "p99": int(np.percentile(counts, 99, method="inverted_cdf")),
        "max": int(counts.max()),
    }


def assert_row(row: Any, ref: dict[str, Any]) -> None:
    got = {
        "documents": row.documents,
        "tokens": row.tokens,
        "bytes": row.bytes,
        "characters": row.characters,
        "p50": row.p50_tokens,
        "p90": row.p90_tokens,
        "p99": row.p99_tokens,
        "max": row.max_tokens,
    }
    assert got == ref
    assert row.tokens_per_byte == ref["tokens"] / ref["bytes"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    rows = corpus_rows()
    return write_shards(tmp_path_factory.mktemp("count"), rows), rows


def test_counts_match_tiktoken_per_tokenizer_and_language(shards: Any) -> None:
    root, rows = shards
    result = count_tokens(root, ["cl100k_base", "o200k_base"], lang_column="lang", shard_rows=100)
    assert result.bad_rows == 0
    assert len(result.files) == 4
    assert len(list_shards(root, parquet_shard_rows=100)) == 3 + 4  # 4 Parquet shards
    for enc in ("cl100k_base", "o200k_base"):
        assert_row(result.row(enc), reference(rows, enc))
        for lang in {r["lang"] for r in rows}:
            assert_row(
                result.row(enc, lang), reference([r for r in rows if r["lang"] == lang], enc)
            )


def test_without_language_column_one_row_per_tokenizer(shards: Any) -> None:
    root, rows = shards
    result = count_tokens(str(root / "*.parquet"), "cl100k_base")
    parquet_rows = rows[: len(rows) // 4]
    assert [r.language for r in result.rows] == ["*"]
    assert_row(result.row("cl100k_base"), reference(parquet_rows, "cl100k_base"))


def test_pyarrow_filesystem_and_glob(shards: Any) -> None:
    root, rows = shards
    fs = pa.fs.SubTreeFileSystem(str(root), pa.fs.LocalFileSystem())
    result = count_tokens("*.jsonl", "cl100k_base", filesystem=fs)
    quarter = len(rows) // 4
    assert result.files == ("b.jsonl",)
    assert_row(result.row("cl100k_base"), reference(rows[quarter : 2 * quarter], "cl100k_base"))
    uri = count_tokens(f"file://{root}/b.jsonl", "cl100k_base")
    assert uri.partial == result.partial


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=300),
    st.lists(st.integers(1, 299), max_size=4),
    st.sampled_from([0.0, 0.01, 0.5, 0.9, 0.99, 1.0]),
)
def test_histogram_merge_is_exact(values: list[int], cuts: list[int], q: float) -> None:
    arr = np.array(values, dtype=np.int64)
    bounds = sorted({0, len(arr), *(c for c in cuts if c < len(arr))})
    parts = [TokenHistogram.of(arr[a:b]) for a, b in itertools.pairwise(bounds)]
    merged = TokenHistogram()
    for p in reversed(parts):  # any order
        merged = p.merge(merged)
    assert merged == TokenHistogram.of(arr)
    assert merged.quantile(q) == int(np.percentile(arr, q * 100, method="inverted_cdf"))
    assert merged.to_array().tolist() == sorted(values)
    assert Tally(histogram=merged).merge(Tally()) == Tally(histogram=merged)


def test_malformed_rows_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "fine"}\n{"text": "also fine"\n\n{"text": 7}\n'
        '["not", "an object"]\n{"txt": "x"}\n{"text": "last"}\n',
        encoding="utf-8",
    )
    result = count_tokens(path, "cl100k_base")
    assert result.row("cl100k_base").documents == 2
    assert result.bad_rows == 4
    lines = [(b.path, b.line) for b in result.bad_samples]
    assert lines == [(str(path), 2), (str(path), 4), (str(path), 5), (str(path), 6)]
    assert "malformed JSON" in result.bad_samples[0].reason
    with pytest.raises(ValueError, match=rf"{path.name}:2: malformed JSON"):
        count_tokens(path, "cl100k_base", on_error="fail")


def test_csv_and_parquet_bad_rows(tmp_path: Path) -> None:
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("id,text\n1,hello\n2,a,b\n3,world\n", encoding="utf-8")
    got = count_tokens(csv_path, "cl100k_base")
    assert got.row("cl100k_base").documents == 2
    assert [str(b) for b in got.bad_samples] == [f"{csv_path}:3: expected 2 fields, got 3"]
    pq_path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"text": ["a", None, "b c", None]}), pq_path, row_group_size=2)
    got = count_tokens(pq_path, "cl100k_base")
    assert got.row("cl100k_base").documents == 2
    assert [b.line for b in got.bad_samples] == [2, 4]
    with pytest.raises(ValueError, match=r"x.parquet:2: column 'text' is null"):
        count_tokens(pq_path, "cl100k_base", on_error="fail")


def test_shard_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    empty = tmp_path / "empty" / "e.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"e.jsonl: empty shard"):
        count_tokens(empty, "cl100k_base")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match=r"empty.parquet: empty shard"):
        count_tokens(tmp_path / "empty.parquet", "cl100k_base")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "nocol.parquet")
    with pytest.raises(ValueError, match=r"nocol.parquet: no text column 'text'.*columns: body"):
        count_tokens(tmp_path / "nocol.parquet", "cl100k_base")
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "ints.parquet")
    with pytest.raises(ValueError, match=r"ints.parquet: the text column 'text' has type int64"):
        count_tokens(tmp_path / "ints.parquet", "cl100k_base")
    (tmp_path / "nocol.jsonl").write_text('{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"nocol.jsonl: no row has the text column 'text'"):
        count_tokens(tmp_path / "nocol.jsonl", "cl100k_base")
    (tmp_path / "head.csv").write_text("text\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"head.csv: empty shard"):
        count_tokens(tmp_path / "head.csv", "cl100k_base")


def test_mixed_schemas_name_the_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"lang": ["en"], "text": ["x"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"text": ["y"]}), tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"b.parquet: no language column 'lang'"):
        count_tokens(tmp_path, "cl100k_base", lang_column="lang")
    (tmp_path / "c.csv").write_text("lang,body\nen,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c.csv: no column 'text' in the header"):
        count_tokens(tmp_path / "c.csv", "cl100k_base")


def test_missing_dataset_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="no such file"):
        count_tokens(tmp_path / "nope.parquet", "cl100k_base")
    (tmp_path / "x.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown dataset format '\.txt'"):
        count_tokens(tmp_path / "x.txt", "cl100k_base")
    with pytest.raises(ValueError, match="matches no"):
        count_tokens(str(tmp_path / "*.parquet"), "cl100k_base")


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown", "table"])
def test_cli_formats(shards: Any, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    root, rows = shards
    code = main(
        [
            "count",
            str(root),
            "--tokenizer",
            "cl100k_base",
            "--tokenizer",
            "o200k_base",
            "--lang-column",
            "lang",
            "--format",
            fmt,
            "--progress",
            "never",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    ref = reference(rows, "o200k_base")
    if fmt == "json":
        data = json.loads(out)
        total = next(
            r for r in data["rows"] if r["tokenizer"] == "o200k_base" and r["language"] == "*"
        )
        assert (total["tokens"], total["p99_tokens"]) == (ref["tokens"], ref["p99"])
    elif fmt == "csv":
        recs = list(csv.DictReader(out.splitlines()))
        total = next(r for r in recs if r["tokenizer"] == "o200k_base" and r["language"] == "*")
        assert int(total["tokens"]) == ref["tokens"]
    else:
        assert f"{ref['tokens']:,}" in out


def test_cli_progress_bar_and_errors(shards: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = shards
    assert main(["count", str(root / "b.jsonl"), "--progress", "always"]) == 0
    assert "counting" in capsys.readouterr().err
    assert main(["count", str(root / "b.jsonl"), "--text-column", "nope"]) == 2
    assert "no row has the text column 'nope'" in capsys.readouterr().err


def test_engine_ray_without_the_extra_names_it(
    shards: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = shards
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["count", str(root / "b.jsonl"), "--engine", "ray"]) == 2
    assert "pip install 'tokenmill[ray]'" in capsys.readouterr().err


def test_import_never_loads_ray_or_pyarrow() -> None:
    code = (
        "import sys, tokenmill, tokenmill.dataset, tokenmill.engines, tokenmill.cli;"
        "import tokenmill.report.model, tokenmill.cost.dataset;"
        "tokenmill.cli.build_parser();"
        "bad = [m for m in ('ray', 'pyarrow') if m in sys.modules]; print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
