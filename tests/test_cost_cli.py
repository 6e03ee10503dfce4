"""``tokenmill cost`` and ``tokenmill models`` end to end (subprocess, as a user runs them)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli_run import cli

FIXTURES = Path(__file__).parent / "fixtures" / "cost"


def test_models_json_lists_catalogue() -> None:
    r = cli("models", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["as_of"] and doc["currency"] == "USD"
    assert len(doc["models"]) >= 30
    gpt4o = doc["models"]["gpt-4o"]
    assert (gpt4o["input"], gpt4o["output"], gpt4o["cache_write"]) == ("2.5", "10", None)


def test_models_table_filters_by_provider() -> None:
    r = cli("models", "--provider", "anthropic")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "as of" in lines[0]
    body = lines[2:]
    assert body and all("anthropic" in line for line in body)
    assert any(line.startswith("claude-sonnet-4-5 ") for line in body)
    bad = cli("models", "--provider", "nope")
    assert bad.returncode == 2 and "no models from provider 'nope'" in bad.stderr


def test_cost_unknown_model_suggests(tmp_path: Path) -> None:
    f = tmp_path / "p.txt"
    f.write_text("hi")
    r = cli("cost", str(f), "--model", "gpt-4o-mnii")
    assert r.returncode == 2
    assert "unknown model 'gpt-4o-mnii'" in r.stderr and "gpt-4o-mini" in r.stderr


def test_cost_missing_file_and_negative_output(tmp_path: Path) -> None:
    r = cli("cost", str(tmp_path / "missing.txt"), "--model", "gpt-4o")
    assert r.returncode == 2 and "missing.txt" in r.stderr
    f = tmp_path / "p.txt"
    f.write_text("hi")
    r = cli("cost", str(f), "--model", "gpt-4o", "--output-tokens", "-3")
    assert r.returncode == 2 and "output_tokens must be >= 0" in r.stderr


def test_cost_text_file_json_matches_tiktoken(tmp_path: Path) -> None:
    tiktoken = pytest.importorskip("tiktoken")
    text = "The quick brown fox jumps over the lazy dog. " * 40
    f = tmp_path / "prompt.txt"
    f.write_text(text)
    r = cli("cost", str(f), "--model", "gpt-4o", "--output-tokens", "1000", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    n = len(tiktoken.get_encoding("o200k_base").encode(text))
    assert out["input_tokens"] == n and out["exact"] is True
    # gpt-4o: $2.50 / 1M input, $10 / 1M output
    expected = Decimal(n) * Decimal("2.5") / 1_000_000 + Decimal("0.01")
    assert Decimal(out["total_cost"]) == expected


def test_cost_stdin_batch_and_missing_batch_price() -> None:
    r = cli("cost", "-", "--model", "gpt-4o-mini", "--batch", stdin="hello world")
    assert r.returncode == 0, r.stderr
    assert "[batch]" in r.stdout and "exact" in r.stdout
    r = cli("cost", "-", "--model", "deepseek-chat", "--batch", stdin="hello world")
    assert r.returncode == 2 and "no batch prices" in r.stderr


def test_cost_chat_json(tmp_path: Path) -> None:
    f = tmp_path / "chat.json"
    f.write_text(json.dumps([{"role": "user", "content": "Hello!"}]))
    r = cli("cost", str(f), "--model", "gpt-4o", "--json")
    assert r.returncode == 0, r.stderr
    # "user" (1) + "Hello!" (2) + 3 per message + 3 reply primer, o200k_base
    assert json.loads(r.stdout)["input_tokens"] == 9


def test_cost_dataset_reports_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text('{"text": "hello world"}\n{"text": oops}\n{"text": "hello world"}\n')
    r = cli("cost", str(f), "--model", "gpt-4o", "--progress", "always")
    assert r.returncode == 0, r.stderr
    assert "2 counted, 1 bad" in r.stdout
    assert f"{f}:2: malformed JSON" in r.stderr
    assert "100.0%" in r.stderr  # the progress bar
    j = cli("cost", str(f), "--model", "gpt-4o", "--json", "--output-tokens", "10")
    doc = json.loads(j.stdout)
    assert doc["count"]["rows"] == 2 and doc["count"]["tokens"] == 4
    assert doc["estimate"]["usage"]["output_tokens"] == 20


def test_cost_with_litellm_file_and_overrides(tmp_path: Path) -> None:
    over = tmp_path / "over.json"
    over.write_text(json.dumps({"gpt-4o": {"input": "1000000"}}))  # $1 per token
    r = cli("cost", "-", "--model", "gpt-4o", "--prices", str(over), "--json", stdin="hello world")
    assert r.returncode == 0, r.stderr
    assert Decimal(json.loads(r.stdout)["total_cost"]) == Decimal(2)
    lit = FIXTURES / "litellm_small.json"
    r = cli("cost", "-", "--model", "acme-chat-1", "--litellm", str(lit), "--json", stdin="hi")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["provider"] == "acme" and out["exact"] is False
