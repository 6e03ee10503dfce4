"""Decode step: the sampling part of one ``generate`` step, tokenmill's adapter vs transformers'.

Each row takes the last-position logits of a ``[batch, 128256]`` step (float32 ``N(0, 1) * 3``,
a torch CPU tensor, as ``generate`` holds them) and the ids so far, and returns the next tokens:

* ``transformers``: what ``generate``'s own sampling loop does with them: its warpers
  (temperature 0.7, top-k 50, top-p 0.9) as a ``LogitsProcessorList``, ``softmax``,
  ``torch.multinomial``;
* ``tokenmill adapter``: ``tokenmill.hf.TokenmillStep``, the step the adapter runs inside
  ``generate`` (the same settings, read from the same warpers; one request per row). Its loop
  writes every step's logits into one float32 buffer, so the step converts that tensor to a
  numpy view once and returns a new token tensor each step; here every call passes the same
  tensor, as that loop does;
* ``tokenmill call``: the sampling call inside that step alone (``BatchSampler.step`` on the numpy
  view), so ``adapter overhead`` = adapter time / call time - 1 is what the adapter adds.

transformers and the adapter are timed in shared rounds (``measure_interleaved``), the adapter
and the bare call in rounds of their own (transformers' step evicts the caches, which would
charge the adapter for it); ``ratio`` is transformers' time over the row's (higher = faster than
transformers). Every step's tokens are checked to lie in the
kept set of Hugging Face's warpers before timing. Needs torch and transformers (``tokenmill[hf]``);
skipped without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenmill.bench.harness import BenchConfig, Row, Skip, measure_interleaved

SUITE = "decode"
VOCAB = 128_256
BATCHES = (1, 16)
QUICK_BATCHES = (1, 16)


def _calls(torch: Any, warpers: Any, step: Any, input_ids: Any, logits: Any) -> dict[str, Any]:
    """The three timed calls of one batch."""
    x = logits.numpy()

    def hf() -> Any:
        probs = torch.nn.functional.softmax(warpers(input_ids, logits), dim=-1)
        return torch.multinomial(probs, num_samples=1).squeeze(1)

    return {
        "transformers": hf,
        "tokenmill adapter": lambda: step(input_ids, logits)[0],
        "tokenmill call": lambda: step.sampler.step(x, step.ids),
    }


def run(config: BenchConfig) -> tuple[list[Row], list[Skip]]:
    try:
        import torch
        import transformers
    except ImportError as e:
        return [], [Skip(SUITE, "decode step", f"needs torch and transformers: {e}")]
    from tokenmill.hf import TokenmillStep

    rows: list[Row] = []
    skips: list[Skip] = []
    torch.set_num_threads(config.threads)
    warpers = transformers.LogitsProcessorList(
        [
            transformers.TemperatureLogitsWarper(0.7),
            transformers.TopKLogitsWarper(50),
            transformers.TopPLogitsWarper(0.9),
        ]
    )
    budget = 0.3 if config.quick else config.row_budget_s
    for batch in QUICK_BATCHES if config.quick else BATCHES:
        rng = np.random.default_rng(batch)
        logits = torch.from_numpy((rng.standard_normal((batch, VOCAB)) * 3).astype(np.float32))
        input_ids: Any = torch.from_numpy(rng.integers(0, VOCAB, size=(batch, 32)))
        step = TokenmillStep(input_ids, warpers, True, list(range(batch)))
        calls = _calls(torch, warpers, step, input_ids, logits)
        kept = torch.isfinite(warpers(input_ids, logits.clone())).numpy()
        for name in ("transformers", "tokenmill adapter"):
            drawn = np.asarray(calls[name]()).reshape(-1)
            if not kept[np.arange(batch), drawn].all():
                skips.append(Skip(SUITE, f"{name} batch {batch}", "token outside HF's kept set"))
        calls["tokenmill call"]()
        # Two groups of shared rounds: transformers' step heats and evicts the caches (and wakes
        # torch's threads), so the adapter's overhead is measured against the bare call in rounds
        # of their own.
        vs_hf = measure_interleaved(
            [calls["transformers"], calls["tokenmill adapter"]], budget_s=budget
        )
        vs_call = measure_interleaved(
            [calls["tokenmill adapter"], calls["tokenmill call"]], budget_s=budget
        )
        base = vs_hf[0].median_s
        op = f"decode step, batch {batch}"
        workload = f"[{batch}, {VOCAB}] T 0.7 top-k 50 top-p 0.9"
        for lib, t in (
            ("transformers", vs_hf[0]),
            ("tokenmill adapter", vs_hf[1]),
            ("tokenmill call", vs_call[1]),
        ):
            rows.append(
                Row(
                    suite=SUITE,
                    operation=op,
                    workload=workload,
                    library=lib,
                    threads=config.threads,
                    timing=t,
                    throughput=1e6 * t.median_s,
                    throughput_unit="µs/step",
                    ratio=base / t.median_s,
                    ratio_to="transformers",
                )
            )
        rows.append(
            Row(
                suite=SUITE,
                operation=op,
                workload=workload,
                library="adapter overhead",
                threads=config.threads,
                timing=None,
                throughput=100 * (vs_call[0].median_s / vs_call[1].median_s - 1),
                throughput_unit="% of the call",
            )
        )
    return rows, skips
