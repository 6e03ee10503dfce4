"""Dataset pricing: JSONL / CSV / Parquet readers, bad rows, the shard reducer, the progress bar.

The counter is a whitespace word counter, so every expected count is computed by hand.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill._progress import Progress
from tokenmill.cost import Catalogue
from tokenmill.cost.dataset import (
    BadRow,
    ShardCount,
    count_dataset,
    count_rows,
    iter_chunks,
    merge_counts,
    price_counts,
    price_dataset,
)


class WordCounter:
    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())

    def count_batch(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]


W = WordCounter()
CAT = Catalogue({}).with_overrides(
    {
        "toy": {
            "provider": "toy",
            "input": "2",
            "output": "8",
            "batch_input": "1",
            "batch_output": "4",
        },
        "toy-long": {
            "provider": "toy",
            "input": "1",
            "output": "2",
            "long_context": {"above_input_tokens": 5, "input": "10", "output": "20"},
        },
    }
)

TEXTS = ["one two three", "four five", "", "six seven eight nine ten"]  # 3 + 2 + 0 + 5 = 10 words


def write_jsonl(path: Path, rows: list[Any], raw_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r) for r in rows]
    for index, raw in (raw_lines or {}).items():
        lines.insert(index, raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_text_column(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": t, "id": i} for i, t in enumerate(TEXTS)])
    res = price_dataset(f, "toy", output_tokens_per_row=5, catalogue=CAT, counter=W)
    assert (res.count.rows, res.count.tokens, res.count.bad_rows) == (4, 10, 0)
    assert res.count.max_row_tokens == 5
    # 10 input x $2/M + 4 rows x 5 output x $8/M
    assert res.total_cost == Decimal("0.00018")
    assert res.estimate.usage.output_tokens == 20


def test_jsonl_malformed_rows_are_reported_and_rest_counted(tmp_path: Path) -> None:
    rows = [{"text": t} for t in TEXTS]
    # file lines: 1 ok, 2 malformed, 3 ok, 4 wrong key, 5 ok, 6 not an object, 7 ok, 8 int value
    f = write_jsonl(
        tmp_path / "bad.jsonl",
        rows,
        {1: '{"text": "broken', 3: '{"txt": "a b"}', 5: "[1, 2]"},
    )
    with f.open("a") as fh:
        fh.write('{"text": 42}\n')
    res = price_dataset(f, "toy", column="text", catalogue=CAT, counter=W)
    assert (res.count.rows, res.count.tokens) == (4, 10)
    assert res.count.bad_rows == 4
    got = [(b.line, b.reason.split(":")[0]) for b in res.count.bad_samples]
    assert got == [
        (2, "malformed JSON"),
        (4, "missing column 'text'"),
        (6, "expected a JSON object, got list"),
        (8, "column 'text' must be a string, got int"),
    ]
    assert all(b.path == str(f) for b in res.count.bad_samples)


def test_jsonl_messages_column(tmp_path: Path) -> None:
    conv = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello there", "name": "bob"},
    ]
    f = write_jsonl(tmp_path / "chat.jsonl", [{"messages": conv}, {"messages": conv[:1]}])
    res = price_dataset(f, "toy", catalogue=CAT, counter=W)  # auto-detects "messages"
    # conv: words 1+2 + 1+2+1 = 7; overhead 2 x 3 + 1 (name) + 3 (primer) = 10 -> 17
    # conv[:1]: words 1+2 = 3; overhead 3 + 3 = 6 -> 9
    assert res.count.tokens == 26
    assert not res.estimate.exact  # non-OpenAI provider: chat format is approximate
    assert "chat overhead" in res.estimate.reason


def test_missing_column_raises_naming_file_and_column(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "a.jsonl", [{"body": "x"}, {"body": "y"}])
    with pytest.raises(ValueError, match=r"a\.jsonl: no row has the column 'text'"):
        price_dataset(f, "toy", column="text", catalogue=CAT, counter=W)
    c = tmp_path / "a.csv"
    c.write_text("id,body\n1,x\n")
    with pytest.raises(ValueError, match=r"a\.csv: no column 'text' in the CSV header"):
        price_dataset(c, "toy", column="text", catalogue=CAT, counter=W)
    with pytest.raises(ValueError, match=r"no 'text' or 'messages' column \(columns: id, body\)"):
        price_dataset(c, "toy", catalogue=CAT, counter=W)


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"cannot read dataset .*nope\.jsonl"):
        price_dataset(tmp_path / "nope.jsonl", "toy", catalogue=CAT, counter=W)
    other = tmp_path / "x.txt"
    other.write_text("hi")
    with pytest.raises(ValueError, match=r"unknown dataset format '\.txt'"):
        price_dataset(other, "toy", catalogue=CAT, counter=W)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no \.jsonl, \.ndjson, \.csv or \.parquet files"):
        price_dataset(empty, "toy", catalogue=CAT, counter=W)


def test_csv_text_and_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "d.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i, t in enumerate(TEXTS):
            w.writerow([i, t])
        w.writerow(["only-one-field"])  # line 6
        w.writerow([9, "multi\nline words"])  # quoted, spans lines 7-8: 3 words
    res = price_dataset(f, "toy", column="text", catalogue=CAT, counter=W)
    assert (res.count.rows, res.count.tokens, res.count.bad_rows) == (5, 13, 1)
    assert res.count.bad_samples[0].line == 6
    assert "expected 2 fields, got 1" in res.count.bad_samples[0].reason


def test_csv_messages_as_json_strings(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["messages"])
        w.writerow([json.dumps([{"role": "user", "content": "a b c"}])])  # 1+3 + 3 + 3 = 10
        w.writerow(["not json"])
    res = price_dataset(f, "toy", messages_column="messages", catalogue=CAT, counter=W)
    assert (res.count.rows, res.count.tokens, res.count.bad_rows) == (1, 10, 1)
    assert res.count.bad_samples[0].line == 3


def test_parquet_text_and_messages(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    f = tmp_path / "d.parquet"
    table = pa.table({"text": [*TEXTS, None], "n": [1, 2, 3, 4, 5]})
    pq.write_table(table, f, row_group_size=2)
    res = price_dataset(f, "toy", column="text", catalogue=CAT, counter=W, chunk_rows=3)
    assert (res.count.rows, res.count.tokens, res.count.bad_rows) == (4, 10, 1)
    assert res.count.bad_samples[0] == BadRow(str(f), 5, "column 'text' is null")
    with pytest.raises(ValueError, match=r"d\.parquet: no column 'body' in the Parquet schema"):
        price_dataset(f, "toy", column="body", catalogue=CAT, counter=W)
    m = tmp_path / "m.parquet"
    conv = [{"role": "user", "content": "hi you"}]
    pq.write_table(pa.table({"messages": [conv, conv]}), m)
    res = price_dataset(m, "toy", catalogue=CAT, counter=W)
    assert res.count.tokens == 2 * (1 + 2 + 3 + 3)


def test_directory_of_mixed_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", [{"text": "a b"}])
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.csv").write_text("text\nc d e\n")
    (tmp_path / "notes.txt").write_text("ignored")
    res = price_dataset(tmp_path, "toy", column="text", catalogue=CAT, counter=W)
    assert (res.count.rows, res.count.tokens) == (2, 5)
    assert [Path(p).name for p in res.files] == ["a.jsonl", "b.csv"]


def test_chunking_does_not_change_the_result(tmp_path: Path) -> None:
    rows = [{"text": " ".join(["w"] * (i % 7))} for i in range(200)]
    f = write_jsonl(tmp_path / "d.jsonl", rows, {50: "garbage", 120: "{}"})
    one = count_dataset(f, W, column="text", chunk_rows=1)
    big = count_dataset(f, W, column="text", chunk_rows=10_000)
    assert one == big
    assert one.tokens == sum(i % 7 for i in range(200))
    assert [b.line for b in one.bad_samples] == [51, 121]


def test_chunks_are_bounded(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "x"}] * 25)
    sizes = [len(c.rows) for c in iter_chunks(f, "text", chunk_rows=10)]
    assert max(sizes) <= 10 and sum(sizes) == 25


def test_long_context_is_applied_per_row() -> None:
    # toy-long: rows with more than 5 prompt tokens are billed at $10/$20, the rest at $1/$2
    rows = ["a b c", "a b c d e f g", "a"]  # 3, 7, 1 tokens
    count = count_rows(rows, W, long_context_threshold=5)
    assert (count.rows_long, count.tokens_long, count.tokens_standard) == (1, 7, 4)
    est = price_counts(count, CAT.get("toy-long"), output_tokens_per_row=1)
    # standard: 4 x 1 + 2 x 2; long: 7 x 10 + 1 x 20  (per 1M)
    assert est.total_cost == Decimal("0.000098")
    assert est.long_context


def test_bad_message_rows_are_reported() -> None:
    rows: list[Any] = [[{"role": "user", "content": "ok"}], [{"content": "no role"}], "oops"]
    count = count_rows(rows, W, messages=True, path="p")
    assert (count.rows, count.bad_rows) == (1, 2)
    assert [b.line for b in count.bad_samples] == [2, 3]


def test_batch_and_missing_batch_price(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "a b"}])
    res = price_dataset(f, "toy", batch=True, output_tokens_per_row=2, catalogue=CAT, counter=W)
    assert res.total_cost == Decimal("0.00001")  # 2 x $1/M + 2 x $4/M
    from tokenmill.cost import MissingPriceError

    with pytest.raises(MissingPriceError):
        price_dataset(f, "toy-long", batch=True, catalogue=CAT, counter=W)
    with pytest.raises(ValueError, match="output_tokens_per_row must be >= 0"):
        price_dataset(f, "toy", output_tokens_per_row=-1, catalogue=CAT, counter=W)


# ---------------------------------------------------------------------------- reducer laws

bad_rows = st.builds(BadRow, st.just("f"), st.integers(1, 100), st.just("r"))
shards = st.builds(
    ShardCount,
    rows=st.integers(0, 50),
    tokens=st.integers(0, 10**6),
    max_row_tokens=st.integers(0, 1000),
    bad_rows=st.integers(0, 5),
    bad_samples=st.lists(bad_rows, max_size=3).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(shards, max_size=6), st.integers(0, 6))
def test_merge_is_associative_with_identity(parts: list[ShardCount], cut: int) -> None:
    left = reduce(merge_counts, parts, ShardCount())
    split = merge_counts(
        reduce(merge_counts, parts[:cut], ShardCount()),
        reduce(merge_counts, parts[cut:], ShardCount()),
    )
    assert left == split
    assert merge_counts(ShardCount(), left) == left == merge_counts(left, ShardCount())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab \n", max_size=12), max_size=30), st.integers(1, 30))
def test_sharded_count_equals_whole(texts: list[str], k: int) -> None:
    whole = count_rows(texts, W)
    parts = [count_rows(texts[i : i + k], W) for i in range(0, len(texts), k)]
    assert reduce(merge_counts, parts, ShardCount()) == whole
    assert whole.tokens == sum(len(t.split()) for t in texts)


# ---------------------------------------------------------------------------- progress bar


def test_progress_bar_renders_to_stream(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "a b"}] * 100)
    out = io.StringIO()
    bar = Progress(f.stat().st_size, unit="bytes", enabled=True, stream=out, interval=0.0)
    count_dataset(f, W, column="text", progress=bar, chunk_rows=10)
    text = out.getvalue()
    assert "\r" in text and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert "100.0%" in last and "100 rows" in last


def test_disabled_progress_writes_nothing() -> None:
    out = io.StringIO()
    bar = Progress(100, enabled=False, stream=out)
    bar.moveto(50, rows=5)
    bar.close()
    assert out.getvalue() == ""


def test_reader_errors_surface_with_file_and_line(tmp_path: Path) -> None:
    # the reader runs ahead in a thread; its error must still reach the caller
    f = tmp_path / "latin1.csv"
    f.write_bytes(b"text\n" + b"ok words\n" * 20_000 + b"caf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1\.csv:20002: not valid UTF-8"):
        count_dataset(f, W, column="text", chunk_rows=100)


def test_counter_errors_stop_the_reader_thread(tmp_path: Path) -> None:
    import threading

    class Boom(WordCounter):
        def count_batch(self, texts: list[str]) -> list[int]:
            raise RuntimeError("counter failed")

    f = write_jsonl(tmp_path / "d.jsonl", [{"text": "a"}] * 5000)
    with pytest.raises(RuntimeError, match="counter failed"):
        count_dataset(f, Boom(), column="text", chunk_rows=10)
    assert not [t for t in threading.enumerate() if t.name == "tokenmill-dataset-reader"]


def test_dataset_limits_checked_per_row(tmp_path: Path) -> None:
    cat = CAT.with_overrides({"tiny": {"provider": "toy", "input": "1", "output": "1",
                                       "context_window": 5, "max_output": 10}})  # fmt: skip
    ok = write_jsonl(tmp_path / "ok.jsonl", [{"text": "a b c d e"}] * 100)  # 500 tokens in total
    assert price_dataset(ok, "tiny", catalogue=cat, counter=W).estimate.warnings == ()
    big = write_jsonl(tmp_path / "big.jsonl", [{"text": "a"}, {"text": "a b c d e f"}])
    warnings = price_dataset(big, "tiny", catalogue=cat, counter=W).estimate.warnings
    assert warnings == ("largest row: prompt of 6 tokens exceeds tiny's context window of 5",)


def test_csv_long_fields(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    f.write_text("text\n" + "w " * 300_000 + "\n")  # a 600 KB field, above csv's default limit
    res = price_dataset(f, "toy", catalogue=CAT, counter=W)
    assert (res.count.rows, res.count.tokens) == (1, 300_000)
