"""Pricing usage logs: a generated multi-provider JSONL log priced against an independent Decimal
computation, malformed lines, unknown models, grouping, the CLI, and flat memory.

The expected money is computed here from the catalogue files' raw price strings and each
provider's documented usage fields, without tokenmill's Usage or price_usage.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tokenmill._data import data_path
from tokenmill.cost.usage_log import UNKNOWN_DAY, parse_response, price_usage_logs

CURATED = json.loads(data_path("prices.json").read_text())["models"]
LITELLM = json.loads(gzip.decompress(data_path("litellm_prices.json.gz").read_bytes()))["models"]
M = Decimal(1_000_000)
DAY1, DAY2 = 1_793_577_600, 1_793_664_000  # 2026-11-02 and 2026-11-03, 00:00 UTC


def price(model: str, field: str) -> Decimal:
    rec = CURATED.get(model) or LITELLM[model]
    value = rec[field]
    assert value is not None, (model, field)
    return Decimal(value) / M


def openai_chat(model: str, prompt: int, cached: int, completion: int, reasoning: int) -> Any:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": DAY1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        },
    }


def log_lines() -> tuple[list[str], Decimal, dict[str, Decimal]]:
    """A log of every supported shape, the expected total and the expected cost per model."""
    lines: list[str] = []
    want: dict[str, Decimal] = {}

    def add(obj: Any, model: str | None = None, cost: Decimal | None = None) -> None:
        lines.append(obj if isinstance(obj, str) else json.dumps(obj))
        if model is not None and cost is not None:
            want[model] = want.get(model, Decimal(0)) + cost

    # OpenAI chat: prompt_tokens include cached; completion_tokens include reasoning
    add(
        openai_chat("gpt-4o", 1200, 200, 300, 0),
        "gpt-4o",
        1000 * price("gpt-4o", "input")
        + 200 * price("gpt-4o", "cache_read")
        + 300 * price("gpt-4o", "output"),
    )
    # a stream: chunks without usage, then the final usage chunk
    for _ in range(3):
        add({"object": "chat.completion.chunk", "model": "gpt-4o-mini", "usage": None})
    chunk = openai_chat("gpt-4o-mini", 50, 0, 20, 0) | {"object": "chat.completion.chunk"}
    chunk["created"] = DAY2
    add(
        chunk,
        "gpt-4o-mini",
        50 * price("gpt-4o-mini", "input") + 20 * price("gpt-4o-mini", "output"),
    )
    # Responses API, as an object and as a response.completed stream event
    resp = {
        "id": "resp_1",
        "object": "response",
        "created_at": DAY2,
        "model": "o3",
        "usage": {
            "input_tokens": 5000,
            "input_tokens_details": {"cached_tokens": 1000},
            "output_tokens": 800,
            "output_tokens_details": {"reasoning_tokens": 600},
            "total_tokens": 5800,
        },
    }
    o3 = (
        4000 * price("o3", "input") + 1000 * price("o3", "cache_read") + 800 * price("o3", "output")
    )
    add(resp, "o3", o3)
    add({"type": "response.completed", "response": resp}, "o3", o3)
    # OpenAI Batch output: batch prices; a failed request carries no usage
    body = openai_chat("gpt-4o-mini", 10_000, 0, 2_000, 0)
    add(
        {
            "id": "b1",
            "custom_id": "r1",
            "response": {"status_code": 200, "body": body},
            "error": None,
        },
        "gpt-4o-mini",
        10_000 * price("gpt-4o-mini", "batch_input") + 2_000 * price("gpt-4o-mini", "batch_output"),
    )
    add(
        {"id": "b2", "custom_id": "r2", "response": {"status_code": 500, "body": {}}, "error": None}
    )
    # Anthropic: input_tokens exclude cache reads and writes; the 1-hour writes are a part of them
    add(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "usage": {
                "input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 3000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 1000,
                    "ephemeral_1h_input_tokens": 2000,
                },
                "output_tokens": 50,
            },
        },
        "claude-sonnet-4-5-20250929",
        100 * price("claude-sonnet-4-5-20250929", "input")
        + 1000 * price("claude-sonnet-4-5-20250929", "cache_read")
        + 1000 * price("claude-sonnet-4-5-20250929", "cache_write")
        + 2000 * price("claude-sonnet-4-5-20250929", "cache_write_1h")
        + 50 * price("claude-sonnet-4-5-20250929", "output"),
    )
    # Gemini: promptTokenCount includes cached; thoughts are beside the candidates
    add(
        {
            "candidates": [{"content": {"parts": [{"text": "ok"}]}}],
            "usageMetadata": {
                "promptTokenCount": 2000,
                "cachedContentTokenCount": 500,
                "candidatesTokenCount": 400,
                "thoughtsTokenCount": 100,
                "totalTokenCount": 2500,
            },
            "modelVersion": "gemini-2.5-flash",
        },
        "gemini-2.5-flash",
        1500 * price("gemini-2.5-flash", "input")
        + 500 * price("gemini-2.5-flash", "cache_read")
        + 500 * price("gemini-2.5-flash", "output"),
    )
    # a long prompt: the whole request at the long-context prices
    lc = CURATED["gemini-2.5-pro"]["long_context"]
    add(
        {
            "usageMetadata": {"promptTokenCount": 250_000, "candidatesTokenCount": 1000},
            "modelVersion": "gemini-2.5-pro",
            "createTime": "2026-11-03T10:00:00Z",
        },
        "gemini-2.5-pro",
        250_000 * Decimal(lc["input"]) / M + 1000 * Decimal(lc["output"]) / M,
    )
    # what the totals must leave out
    add(openai_chat("no-such-model-xyz", 10, 0, 5, 0))  # unknown model
    add("{not json")  # malformed, line 14
    add({"hello": "world"})  # not a response, line 15
    add("")  # blank lines are not lines of usage
    total = sum(want.values(), Decimal(0))
    return lines, total, want


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_multi_provider_log_priced_exactly(tmp_path: Path) -> None:
    lines, total, want = log_lines()
    report = price_usage_logs([write_log(tmp_path / "log.jsonl", lines)], by="model")
    assert report.total.cost == total
    assert {g.key[0]: g.cost for g in report.groups} == want
    assert report.total.requests == 8
    assert [g.key[0] for g in report.unknown_models] == ["no-such-model-xyz"]
    assert report.unknown_models[0].requests == 1
    assert [(s.line, s.reason.split(":")[0]) for s in report.skipped] == [
        (14, "malformed JSON"),
        (15, "not a provider response tokenmill can read (no usage found)"),
    ]
    assert report.skipped_count == 2 and report.no_usage_lines == 4
    assert "unknown models (no-such-model-xyz)" in report.excluded()
    assert "2 unreadable lines" in report.excluded()
    o3 = next(g for g in report.groups if g.key == ("o3",))
    assert (o3.input_tokens, o3.cached_tokens, o3.output_tokens, o3.reasoning_tokens) == (
        8000,
        2000,
        400,
        1200,
    )


def test_group_by_day_and_model_day(tmp_path: Path) -> None:
    lines, total, _ = log_lines()
    log = write_log(tmp_path / "log.jsonl", lines)
    by_day = price_usage_logs([log], by="day")
    assert {g.key[0] for g in by_day.groups} == {"2026-11-02", "2026-11-03", UNKNOWN_DAY}
    assert sum((g.cost for g in by_day.groups), Decimal(0)) == total == by_day.total.cost
    both = price_usage_logs([log, log], by="model,day")
    assert both.total.cost == 2 * total
    assert ("gemini-2.5-pro", "2026-11-03") in {g.key for g in both.groups}
    with pytest.raises(ValueError, match="--by"):
        price_usage_logs([log], by="week")


def test_bad_usage_fields_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"usage\.prompt_tokens must be a non-negative integer"):
        parse_response(openai_chat("gpt-4o", -1, 0, 1, 0))
    with pytest.raises(ValueError, match="cached_tokens"):
        parse_response(openai_chat("gpt-4o", 10, 20, 1, 0))  # more cached than prompt tokens
    with pytest.raises(ValueError, match="no 'model' field"):
        parse_response({"object": "chat.completion", "usage": {"prompt_tokens": 1}})


def test_cli_table_json_csv(tmp_path: Path) -> None:
    lines, total, _ = log_lines()
    log = write_log(tmp_path / "log.jsonl", lines)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tokenmill", "usage", str(log), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    table = run()
    assert table.returncode == 0, table.stderr
    assert Decimal(table.stdout.splitlines()[-1].split()[-1].lstrip("$")) == total
    assert "log.jsonl:14: malformed JSON" in table.stderr
    assert "unknown model  no-such-model-xyz" in table.stderr
    doc = json.loads(run("--format", "json", "--by", "model,day").stdout)
    assert Decimal(doc["total"]["cost"]) == total and doc["by"] == ["model", "day"]
    csv_out = run("--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("model,requests,")
    assert csv_out[-1].startswith("TOTAL,8,") and Decimal(csv_out[-1].split(",")[-1]) == total
    missing = subprocess.run(
        [sys.executable, "-m", "tokenmill", "usage", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr


def test_memory_stays_flat_as_the_log_grows(tmp_path: Path) -> None:
    lines, _, _ = log_lines()
    small = write_log(tmp_path / "small.jsonl", lines * 100)
    big = write_log(tmp_path / "big.jsonl", lines * 1000)  # 10x the lines
    peaks = []
    for log in (small, big):
        price_usage_logs([log])  # warm caches (catalogue, resolutions) outside the measurement
        tracemalloc.start()
        report = price_usage_logs([log])
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert report.skipped_count == 2 * (100 if log is small else 1000)
    assert peaks[1] < 2 * peaks[0] + 64 * 1024, peaks  # not 10x: nothing grows with the file
