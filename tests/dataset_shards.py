"""Generated dataset shards shared by the count tests (local and Ray engines)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

_DATA = Path(__file__).resolve().parents[1] / "python" / "tokenmill" / "data"


def corpus_rows() -> list[dict[str, str]]:
    """The bundled parallel sample (lang, id, text), plus texts that stress the counters."""
    rows = [
        json.loads(line)
        for line in (_DATA / "parallel_corpus.jsonl").read_text("utf-8").splitlines()
    ]
    extra = ["", " ", "<|endoftext|> is plain text here", "a" * 3000, "🙂" * 50, "x\n\ny\r\n"]
    rows += [{"lang": "zzz_Test", "id": f"x{i}", "text": t} for i, t in enumerate(extra)]
    return rows


def write_shards(root: Path, rows: list[dict[str, str]]) -> Path:
    """The rows split over Parquet (several row groups), JSONL, CSV and TSV files."""
    root.mkdir(parents=True, exist_ok=True)
    quarter = len(rows) // 4
    parts = [
        rows[:quarter],
        rows[quarter : 2 * quarter],
        rows[2 * quarter : 3 * quarter],
        rows[3 * quarter :],
    ]
    table = pa.table({k: [r[k] for r in parts[0]] for k in ("lang", "id", "text")})
    pq.write_table(table, root / "a.parquet", row_group_size=50)
    with (root / "b.jsonl").open("w", encoding="utf-8") as f:
        for r in parts[1]:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    for name, rows_, delim in (("c.csv", parts[2], ","), ("d.tsv", parts[3], "\t")):
        with (root / name).open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter=delim)
            w.writerow(["lang", "id", "text"])
            for r in rows_:
                w.writerow([r["lang"], r["id"], r["text"]])
    return root
