"""Results as a terminal table, Markdown, or JSON (and back from JSON).

Pure functions of a ``Results``; the CLI only prints what they return.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from tokenmill.bench import Results
from tokenmill.bench.harness import Row, Skip, Timing

SCHEMA = "tokenmill-bench/1"


def to_json(results: Results) -> str:
    payload = {"schema": SCHEMA, **dataclasses.asdict(results)}
    return json.dumps(payload, indent=2)


def from_json(text: str) -> Results:
    data = json.loads(text)
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} document (schema={data.get('schema')!r})")
    rows = []
    for r in data["rows"]:
        timing = Timing(**r["timing"]) if r.get("timing") else None
        rows.append(Row(**{**r, "timing": timing}))
    return Results(
        machine=data["machine"],
        mode=data["mode"],
        rows=tuple(rows),
        skipped=tuple(Skip(**s) for s in data["skipped"]),
        corpora=data.get("corpora", {}),
        seconds=float(data.get("seconds", 0.0)),
    )


def _ms(t: float) -> str:
    ms = t * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def _num(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def table(headers: Sequence[str], body: Sequence[Sequence[str]], markdown: bool) -> str:
    """A plain aligned table, or a GitHub Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(headers)]
    sep = "  "
    lines = [sep.join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append(sep.join("-" * w for w in widths))
    lines += [sep.join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in body]
    return "\n".join(lines)


#: One column of a table: its header and how a row fills it (``markdown`` bolds tokenmill).
Column = tuple[str, Callable[[Row, bool], str]]


def columns_table(rows: Sequence[Row], markdown: bool, columns: Sequence[Column]) -> str:
    """One line per row, one cell per column."""
    body = [[cell(r, markdown) for _, cell in columns] for r in rows]
    return table([header for header, _ in columns], body, markdown)


def _times(median: str, fmt: Callable[[float], str] = _ms) -> list[Column]:
    """The median, min and max columns of the row's timing (``–`` when it has none)."""

    def of(attr: str) -> Callable[[Row, bool], str]:
        return lambda r, _: "–" if r.timing is None else fmt(getattr(r.timing, attr))

    return [(median, of("median_s")), ("min", of("min_s")), ("max", of("max_s"))]


def _lib(r: Row, markdown: bool) -> str:
    return f"**{r.library}**" if markdown and r.library == "tokenmill" else r.library


def _extra(key: str, digits: int) -> Callable[[Row, bool], str]:
    return lambda r, _: _num(r.extra.get(key), digits)


def _ratio_to(r: Row, _: bool) -> str:
    return f"{_num(r.ratio)} ({r.ratio_to})" if r.ratio is not None else "–"


_ENCODING: Column = ("encoding", lambda r, _: r.encoding)
_OPERATION: Column = ("operation", lambda r, _: r.operation)
_OP: Column = ("op", lambda r, _: r.operation)
_LIBRARY: Column = ("library", _lib)
_THREADS: Column = ("thr", lambda r, _: str(r.threads))
_EXACT: Column = ("exact", lambda r, _: r.exact)

SAMPLING_COLUMNS: tuple[Column, ...] = (
    ("shape", lambda r, _: r.workload),
    _OPERATION,
    _LIBRARY,
    _THREADS,
    *_times("median ms"),
    ("rows/s", lambda r, _: _num(r.throughput, 0)),
    ("GB/s", _extra("GB/s", 2)),
    ("× floor", lambda r, _: _num(r.ratio)),
    ("× copy", _extra("× copy", 2)),
    _EXACT,
)
TOKENIZATION_COLUMNS: tuple[Column, ...] = (
    _ENCODING,
    ("workload", lambda r, _: r.workload),
    _OP,
    _LIBRARY,
    _THREADS,
    *_times("median ms"),
    ("MB/s", lambda r, _: _num(r.throughput, 1)),
    ("× ref", _ratio_to),
    ("exact", lambda r, _: r.exact + (f"; {r.note}" if r.note else "")),
)
FIRSTPASS_COLUMNS: tuple[Column, ...] = (
    _ENCODING,
    ("corpus", lambda r, _: f"{r.workload} ({r.extra.get('MB', 0):.0f} MB)"),
    _OP,
    _LIBRARY,
    ("first pass MB/s", lambda r, _: _num(r.throughput, 1)),
    ("× quicktok-v1", lambda r, _: _num(r.ratio)),
    ("warm cache MB/s", _extra("warm_MB/s", 1)),
    _EXACT,
)
SCALING_COLUMNS: tuple[Column, ...] = (
    _ENCODING,
    ("corpus", lambda r, _: f"{r.workload} ({r.extra.get('MB', 0):.0f} MB)"),
    ("threads", lambda r, _: str(r.threads)),
    ("MB/s (wall)", lambda r, _: _num(r.throughput, 1)),
    ("× 1 thread", lambda r, _: _num(r.ratio)),
    ("best run × 1 thread", _extra("best_ratio", 2)),
    ("CPU s", _extra("cpu_s", 2)),
    _EXACT,
)
LOAD_COLUMNS: tuple[Column, ...] = (
    _ENCODING,
    _LIBRARY,
    *_times("load ms (median)"),
    ("import ms", _extra("import_ms", 1)),
    ("first encode ms", _extra("first_encode_ms", 2)),
    ("× ref", _ratio_to),
)
STREAMING_COLUMNS: tuple[Column, ...] = (
    _ENCODING,
    ("batch", lambda r, _: r.workload.removeprefix("batch ")),
    _LIBRARY,
    *_times("µs/token median", lambda t: f"{t * 1e6:.3f}"),
    ("× tokenmill time", lambda r, _: _num(r.ratio)),
    _EXACT,
)


def sampling_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, SAMPLING_COLUMNS)


def tokenization_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, TOKENIZATION_COLUMNS)


def firstpass_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, FIRSTPASS_COLUMNS)


def scaling_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, SCALING_COLUMNS)


def load_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, LOAD_COLUMNS)


UNSTABLE_COLUMNS: tuple[Column, ...] = (
    _ENCODING,
    ("prompts", lambda r, _: r.workload),
    _LIBRARY,
    *_times("µs/prompt median", lambda t: f"{t * 1e6:.1f}"),
    ("× tokenmill time", lambda r, _: _num(r.ratio)),
    _EXACT,
)


def unstable_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, UNSTABLE_COLUMNS)


def streaming_table(rows: Sequence[Row], markdown: bool) -> str:
    return columns_table(rows, markdown, STREAMING_COLUMNS)


def decode_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = ["step", "library", "µs/step median", "min", "max", "× transformers time"]
    body = []
    for r in rows:
        if r.timing is None:  # the adapter's overhead row
            body.append([r.operation, r.library, f"{_num(r.throughput)} % of the call", "", "", ""])
            continue
        t = r.timing
        times = [f"{v * 1e6:.1f}" for v in (t.median_s, t.min_s, t.max_s)]
        body.append([r.operation, r.library, *times, _num(r.ratio)])
    return table(headers, body, markdown)


def headline(results: Results) -> list[str]:
    """The ratios people ask about first, one line each."""
    out: list[str] = []
    rows = results.rows
    samp = [r for r in rows if r.suite == "sampling" and r.library == "tokenmill"]
    for r in samp:
        if r.threads == 1 and r.ratio is not None:
            out.append(f"sampling {r.workload} {r.operation}: {r.ratio:.2f}× one read pass")
    by_key = {(r.workload, r.operation, r.threads): r for r in samp}
    for (shape, op, thr), r in by_key.items():
        one = by_key.get((shape, op, 1))
        if thr > 1 and one is not None and r.ratio and one.ratio:
            # Each mode's time over the single-threaded read pass of its own rounds: the thread
            # modes run one after the other, and this cancels the machine's drift between them.
            speedup = one.ratio / r.ratio
            out.append(
                f"sampling {shape} {op}: {thr} threads {speedup:.2f}× faster than 1 "
                "(times over each mode's read pass)"
            )
    tok = [r for r in rows if r.suite == "tokenization" and r.throughput]
    # corpora, and the adversarial inputs at their largest N only
    largest: dict[str, int] = {}
    for r in tok:
        kind, _, n = r.workload.partition(" N=")
        if n:
            largest[kind] = max(largest.get(kind, 0), _parse_n(n))
    tok = [
        r
        for r in tok
        if " N=" not in r.workload
        or _parse_n(r.workload.partition(" N=")[2]) == largest[r.workload.partition(" N=")[0]]
    ]
    index = {(r.encoding, r.workload, r.operation, r.threads, r.library): r for r in tok}
    for (enc, wl, op, thr, lib), r in index.items():
        if lib != "tokenmill" or r.throughput is None:
            continue
        parts = []
        for peer in ("tiktoken", "quicktok-v1"):
            p = index.get((enc, wl, op, thr, peer))
            if p is not None and p.throughput:
                parts.append(f"{r.throughput / p.throughput:.2f}× {peer}")
        if parts:
            out.append(f"{enc} {wl} {op} ({thr} thr): {r.throughput:.1f} MB/s = {', '.join(parts)}")
    return out


def _parse_n(text: str) -> int:
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(text.rstrip("kM")) * scale


def _cell(r: Row | None, value: float | None, digits: int = 1) -> str:
    if r is None or value is None:
        return "–"
    mark = " WRONG" if r.exact.startswith("WRONG") else ""
    return f"{_num(value, digits)}{mark}"


def sampling_summary(rows: Sequence[Row], markdown: bool) -> str:
    """One line per (shape, operation): each library's time as a multiple of one read pass
    (tokenmill per instruction set), and the copy floor's."""
    isas = sorted({r.library for r in rows if r.library.startswith("tokenmill [")})
    libs = [
        lib for lib in ("tokenmill", *isas, "numpy", "torch") if any(r.library == lib for r in rows)
    ]
    threads = sorted({r.threads for r in rows})
    index = {(r.workload, r.operation, r.library, r.threads): r for r in rows}
    keys = list(
        dict.fromkeys(
            (r.workload, r.operation)
            for r in rows
            if r.library not in ("np.max (floor)", "np.copyto (floor)")
        )
    )
    headers = ["shape", "operation", "floor ms"]
    cols: list[tuple[str, int]] = []
    for lib in libs:
        for t in threads:
            if any(r.library == lib and r.threads == t for r in rows):
                cols.append((lib, t))
                headers.append(f"{lib} × floor" + (f" ({t} thr)" if len(threads) > 1 else ""))
    headers.append("tokenmill exact")
    body = []
    for shape, op in keys:
        floor = index.get((shape, "one read pass", "np.max (floor)", threads[0]))
        cells = [shape, op, _ms(floor.timing.median_s) if floor and floor.timing else "–"]
        for lib, t in cols:
            r = index.get((shape, op, lib, t))
            cells.append(_cell(r, r.ratio if r else None, 2))
        tm = index.get((shape, op, "tokenmill", threads[0]))
        cells.append(tm.exact if tm else "–")
        body.append(cells)
    return table(headers, body, markdown)


def tokenization_summary(rows: Sequence[Row], markdown: bool) -> str:
    """One line per (encoding, workload, operation, threads): every library's MB/s side by side."""
    order = (
        "tokenmill",
        "tokenmill-cold",
        "tiktoken",
        "tokenizers",
        "bpe-openai",
        "quicktok-v1",
        "riptoken",
    )
    libs = [lib for lib in order if any(r.library == lib for r in rows)]
    index = {(r.encoding, r.workload, r.operation, r.threads, r.library): r for r in rows}
    keys = list(dict.fromkeys((r.encoding, r.workload, r.operation, r.threads) for r in rows))
    headers = ["encoding", "workload", "op", "thr", *(f"{lib} MB/s" for lib in libs)]
    body = []
    for key in keys:
        cells = [key[0], key[1], key[2], str(key[3])]
        for lib in libs:
            r = index.get((*key, lib))
            cells.append(_cell(r, r.throughput if r else None))
        body.append(cells)
    return table(headers, body, markdown)


#: A section of the report: which rows (a suite's name, or a test of the row), title, table.
Section = tuple[str | Callable[[Row], bool], str, Callable[[Sequence[Row], bool], str]]

#: The summary's sections.
SUMMARY: tuple[Section, ...] = (
    ("sampling", "Sampling: time ÷ one read pass (lower is better)", sampling_summary),
    (
        "tokenization",
        "Tokenization: MB/s (higher is better; WRONG = tokens differ from the reference)",
        tokenization_summary,
    ),
    ("load", "Load time", load_table),
)

#: The full report's sections after the summary, in order.
SECTIONS: tuple[Section, ...] = (
    (
        "sampling",
        "Sampling — float32 logits N(0,1)·3; × floor = time / one read pass "
        "(np.max(x, axis=1)) on the same array; lower is better",
        sampling_table,
    ),
    (
        "tokenization",
        "Tokenization — MB/s of UTF-8 input; × ref = throughput / the reference's "
        "(tiktoken; HF tokenizers for llama-3); higher is better",
        tokenization_table,
    ),
    (
        "formats",
        "Other formats — SentencePiece BPE / Unigram, Unigram tokenizer.json, tekken; "
        "MB/s of UTF-8 input; × ref = throughput / the format's reference library's; "
        "higher is better",
        tokenization_table,
    ),
    (
        lambda r: r.suite == "firstpass" and r.operation != "count_batch",
        "First pass — one pass over text the process has not seen: a fresh process per "
        "library, encoding and corpus, one thread, CPU time; × quicktok-v1 = its first-pass "
        "time / this one's (same operation); warm cache = a second pass over the same "
        "documents in the same process",
        firstpass_table,
    ),
    (
        lambda r: r.suite == "firstpass" and r.operation == "count_batch",
        "Thread scaling — tokenmill count_batch, first pass in a fresh process per run, "
        "wall time (median of runs); × 1 thread = the 1-thread time / this one; CPU s = all "
        "threads' CPU time",
        scaling_table,
    ),
    (
        lambda r: r.suite == "streaming" and r.operation == "decode stream",
        "Streaming detokenization — µs per generated token (one step per token per "
        "sequence); × tokenmill time = the peer's time / tokenmill's, measured in shared "
        "rounds",
        streaming_table,
    ),
    (
        lambda r: r.suite == "streaming" and r.operation == "encode_with_unstable",
        "Prompt tail — encode_with_unstable on prompts of up to 2,000 characters cut at a "
        "random character, µs per prompt; × tokenmill time = the peer's time / tokenmill's, "
        "measured in shared rounds; exact = equal stable tokens and the same set of completions",
        unstable_table,
    ),
    (
        "decode",
        "Decode step — the sampling part of one generate step, [batch, 128256] float32 "
        "torch logits, T 0.7 top-k 50 top-p 0.9; × transformers time = transformers' time / "
        "the row's, measured in shared rounds",
        decode_table,
    ),
    ("load", "Load time — fresh process, warm file cache", load_table),
)


def _sections(results: Results, sections: Sequence[Section], markdown: bool, h: str) -> list[str]:
    """Each section that has rows: its title, a blank line, its table, a blank line."""
    out: list[str] = []
    for which, title, make in sections:
        if isinstance(which, str):
            rows = [r for r in results.rows if r.suite == which]
        else:
            rows = [r for r in results.rows if which(r)]
        if rows:
            out += [f"{h}{title}", "", make(rows, markdown), ""]
    return out


def summary(results: Results, markdown: bool = True) -> str:
    """The compact tables (for a README): ratios to the floor, MB/s side by side."""
    return "\n".join(_sections(results, SUMMARY, markdown, "#### " if markdown else ""))


def render(results: Results, markdown: bool = False) -> str:
    m = results.machine
    h = "### " if markdown else ""
    out = [
        f"{h}tokenmill bench — tokenmill {m.get('tokenmill')} (SIMD {m.get('simd')}), "
        f"Python {m.get('python')}, numpy {m.get('numpy')}",
        f"machine: {m.get('cpu')}, {m.get('cpus_available')} CPUs available; "
        f"mode: {'quick' if results.mode.get('quick') else 'full'}, threads "
        f"{'/'.join(str(t) for t in results.mode.get('threads', []))}; "
        f"took {results.seconds:.0f} s",
        "",
    ]
    if any(r.suite in ("sampling", "tokenization") for r in results.rows):
        out += [f"{h}Summary", "", summary(results, markdown), ""]
    out += _sections(results, SECTIONS, markdown, h)
    if results.corpora:
        out += [f"{h}Corpora", ""]
        out += [f"- {name}: {desc}" for name, desc in results.corpora.items()]
        out.append("")
    lines = headline(results)
    if lines:
        out += [f"{h}Key ratios", ""] + [f"- {line}" for line in lines] + [""]
    if results.skipped:
        out += [f"{h}Skipped", ""]
        out += [f"- {s.suite}: {s.what} — {s.reason}" for s in results.skipped]
        out.append("")
    return "\n".join(out)
