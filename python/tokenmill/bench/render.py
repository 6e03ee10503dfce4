"""Results as a terminal table, Markdown, or JSON (and back from JSON).

Pure functions of a ``Results``; the CLI only prints what they return.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

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


def _timing_cells(t: Timing | None) -> list[str]:
    if t is None:
        return ["–", "–", "–"]
    return [_ms(t.median_s), _ms(t.min_s), _ms(t.max_s)]


def _lib(r: Row, markdown: bool) -> str:
    return f"**{r.library}**" if markdown and r.library == "tokenmill" else r.library


def sampling_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = [
        "shape",
        "operation",
        "library",
        "thr",
        "median ms",
        "min",
        "max",
        "rows/s",
        "GB/s",
        "× floor",
        "× copy",
        "exact",
    ]
    body = [
        [
            r.workload,
            r.operation,
            _lib(r, markdown),
            str(r.threads),
            *_timing_cells(r.timing),
            _num(r.throughput, 0),
            _num(r.extra.get("GB/s")),
            _num(r.ratio),
            _num(r.extra.get("× copy")),
            r.exact,
        ]
        for r in rows
    ]
    return table(headers, body, markdown)


def tokenization_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = [
        "encoding",
        "workload",
        "op",
        "library",
        "thr",
        "median ms",
        "min",
        "max",
        "MB/s",
        "× ref",
        "exact",
    ]
    body = [
        [
            r.encoding,
            r.workload,
            r.operation,
            _lib(r, markdown),
            str(r.threads),
            *_timing_cells(r.timing),
            _num(r.throughput, 1),
            f"{_num(r.ratio)} ({r.ratio_to})" if r.ratio is not None else "–",
            r.exact + (f"; {r.note}" if r.note else ""),
        ]
        for r in rows
    ]
    return table(headers, body, markdown)


def firstpass_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = [
        "encoding",
        "corpus",
        "op",
        "library",
        "first pass MB/s",
        "× quicktok-v1",
        "warm cache MB/s",
        "exact",
    ]
    body = [
        [
            r.encoding,
            f"{r.workload} ({r.extra.get('MB', 0):.0f} MB)",
            r.operation,
            _lib(r, markdown),
            _num(r.throughput, 1),
            _num(r.ratio),
            _num(r.extra.get("warm_MB/s"), 1),
            r.exact,
        ]
        for r in rows
    ]
    return table(headers, body, markdown)


def scaling_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = [
        "encoding",
        "corpus",
        "threads",
        "MB/s (wall)",
        "× 1 thread",
        "best run × 1 thread",
        "CPU s",
        "exact",
    ]
    body = [
        [
            r.encoding,
            f"{r.workload} ({r.extra.get('MB', 0):.0f} MB)",
            str(r.threads),
            _num(r.throughput, 1),
            _num(r.ratio),
            _num(r.extra.get("best_ratio")),
            _num(r.extra.get("cpu_s")),
            r.exact,
        ]
        for r in rows
    ]
    return table(headers, body, markdown)


def load_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = [
        "encoding",
        "library",
        "load ms (median)",
        "min",
        "max",
        "import ms",
        "first encode ms",
        "× ref",
    ]
    body = [
        [
            r.encoding,
            _lib(r, markdown),
            *_timing_cells(r.timing),
            _num(r.extra.get("import_ms"), 1),
            _num(r.extra.get("first_encode_ms"), 2),
            f"{_num(r.ratio)} ({r.ratio_to})" if r.ratio is not None else "–",
        ]
        for r in rows
    ]
    return table(headers, body, markdown)


def streaming_table(rows: Sequence[Row], markdown: bool) -> str:
    headers = [
        "encoding",
        "batch",
        "library",
        "µs/token median",
        "min",
        "max",
        "× tokenmill time",
        "exact",
    ]
    body = [
        [
            r.encoding,
            r.workload.removeprefix("batch "),
            _lib(r, markdown),
            *(
                [f"{t * 1e6:.3f}" for t in (r.timing.median_s, r.timing.min_s, r.timing.max_s)]
                if r.timing
                else ["–", "–", "–"]
            ),
            _num(r.ratio),
            r.exact,
        ]
        for r in rows
    ]
    return table(headers, body, markdown)


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


def summary(results: Results, markdown: bool = True) -> str:
    """The compact tables (for a README): ratios to the floor, MB/s side by side."""
    h = "#### " if markdown else ""
    samp = [r for r in results.rows if r.suite == "sampling"]
    tok = [r for r in results.rows if r.suite == "tokenization"]
    load = [r for r in results.rows if r.suite == "load"]
    out: list[str] = []
    if samp:
        out += [
            f"{h}Sampling: time ÷ one read pass (lower is better)",
            "",
            sampling_summary(samp, markdown),
            "",
        ]
    if tok:
        out += [
            f"{h}Tokenization: MB/s (higher is better; WRONG = tokens differ from the reference)",
            "",
            tokenization_summary(tok, markdown),
            "",
        ]
    if load:
        out += [f"{h}Load time", "", load_table(load, markdown), ""]
    return "\n".join(out)


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
    samp = [r for r in results.rows if r.suite == "sampling"]
    tok = [r for r in results.rows if r.suite == "tokenization"]
    load = [r for r in results.rows if r.suite == "load"]
    if samp or tok:
        out += [f"{h}Summary", "", summary(results, markdown), ""]
    if samp:
        out += [
            f"{h}Sampling — float32 logits N(0,1)·3; × floor = time / one read pass "
            "(np.max(x, axis=1)) on the same array; lower is better",
            "",
            sampling_table(samp, markdown),
            "",
        ]
    if tok:
        out += [
            f"{h}Tokenization — MB/s of UTF-8 input; × ref = throughput / the reference's "
            "(tiktoken; HF tokenizers for llama-3); higher is better",
            "",
            tokenization_table(tok, markdown),
            "",
        ]
    formats = [r for r in results.rows if r.suite == "formats"]
    if formats:
        out += [
            f"{h}Other formats — SentencePiece BPE / Unigram, Unigram tokenizer.json, tekken; "
            "MB/s of UTF-8 input; × ref = throughput / the format's reference library's; "
            "higher is better",
            "",
            tokenization_table(formats, markdown),
            "",
        ]
    first = [r for r in results.rows if r.suite == "firstpass" and r.operation != "count_batch"]
    if first:
        out += [
            f"{h}First pass — one pass over text the process has not seen: a fresh process per "
            "library, encoding and corpus, one thread, CPU time; × quicktok-v1 = its first-pass "
            "time / this one's (same operation); warm cache = a second pass over the same "
            "documents in the same process",
            "",
            firstpass_table(first, markdown),
            "",
        ]
    scaling = [r for r in results.rows if r.suite == "firstpass" and r.operation == "count_batch"]
    if scaling:
        out += [
            f"{h}Thread scaling — tokenmill count_batch, first pass in a fresh process per run, "
            "wall time (median of runs); × 1 thread = the 1-thread time / this one; CPU s = all "
            "threads' CPU time",
            "",
            scaling_table(scaling, markdown),
            "",
        ]
    stream = [r for r in results.rows if r.suite == "streaming"]
    if stream:
        out += [
            f"{h}Streaming detokenization — µs per generated token (one step per token per "
            "sequence); × tokenmill time = the peer's time / tokenmill's, measured in shared "
            "rounds",
            "",
            streaming_table(stream, markdown),
            "",
        ]
    decode = [r for r in results.rows if r.suite == "decode"]
    if decode:
        out += [
            f"{h}Decode step — the sampling part of one generate step, [batch, 128256] float32 "
            "torch logits, T 0.7 top-k 50 top-p 0.9; × transformers time = transformers' time / "
            "the row's, measured in shared rounds",
            "",
            decode_table(decode, markdown),
            "",
        ]
    if load:
        out += [
            f"{h}Load time — fresh process, warm file cache",
            "",
            load_table(load, markdown),
            "",
        ]
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
