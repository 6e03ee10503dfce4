"""``tokenmill scaling``: compute-optimal sizes, training time and cost, parameter counts,
inference memory and isoFLOP curves. Parses arguments and prints; the work is in
``tokenmill.scaling``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any


def _add_arch_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="architecture preset (e.g. llama-3-70b, mixtral-8x7b)")
    g = p.add_argument_group("explicit architecture (instead of --preset)")
    g.add_argument("--d-model", type=int)
    g.add_argument("--layers", type=int, dest="n_layers")
    g.add_argument("--heads", type=int, dest="n_heads")
    g.add_argument("--kv-heads", type=int, dest="n_kv_heads", help="default: --heads")
    g.add_argument("--d-ff", type=int)
    g.add_argument("--vocab", type=int, dest="vocab_size")
    g.add_argument("--tied", action="store_true", help="tied input/output embeddings")
    g.add_argument("--mlp", choices=["gated", "plain"], default="gated")
    g.add_argument("--norm", choices=["rmsnorm", "layernorm"], default="rmsnorm")
    g.add_argument("--bias", action="store_true", help="linear layers have biases")
    g.add_argument("--positional", choices=["rope", "learned"], default="rope")
    g.add_argument("--max-seq-len", type=int, help="rows of a learned position table")
    g.add_argument("--experts", type=int, default=1, dest="n_experts")
    g.add_argument("--top-k", type=int, default=1)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="scaling_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("optimal", help="compute-optimal parameters and tokens for a budget")
    p.add_argument("--compute", type=float, required=True, help="training compute, FLOP")
    p.add_argument("--fit", choices=["epoch", "hoffmann"], default="epoch")
    p.add_argument("--tokens-per-param", type=float, default=20.0, help="for the rule of thumb")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="training time, GPU-hours and cost")
    p.add_argument("--compute", type=float, help="training compute, FLOP (or --params/--tokens)")
    p.add_argument("--params", type=float, help="parameters N (C = 6·N·D)")
    p.add_argument("--tokens", type=float, help="training tokens D")
    p.add_argument("--preset", help="take N from a preset (active parameters for a MoE)")
    p.add_argument(
        "--seq-len",
        type=int,
        help="with --preset: count attention too, 6N + 12·layers·d_model·seq_len per token",
    )
    p.add_argument("--gpu", help="catalogue key, e.g. h100-sxm (see `scaling gpus`)")
    p.add_argument("--precision", default="bf16", choices=["fp64", "tf32", "bf16", "fp8"])
    p.add_argument("--peak-tflops", type=float, help="per-GPU peak TFLOP/s (overrides catalogue)")
    p.add_argument("--count", type=int, help="number of GPUs")
    p.add_argument("--deadline-days", type=float, help="instead of --count: GPUs to finish in time")
    p.add_argument("--mfu", type=float, required=True, help="model FLOP utilisation in (0, 1]")
    p.add_argument("--price", type=float, help="$ per GPU-hour")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("params", help="total and active parameters of an architecture")
    _add_arch_flags(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("memory", help="inference memory: weights, KV cache, decode bound")
    _add_arch_flags(p)
    p.add_argument("--precision", default="bf16", help="weights: fp32 bf16 fp16 fp8 int8 int4")
    p.add_argument("--kv-precision", default="bf16", help="KV cache precision (default bf16)")
    p.add_argument("--context", type=int, required=True, help="tokens per sequence")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--gpu", help="catalogue key: adds GPU count and a decode tokens/s bound")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("isoflop", help="loss against model size at fixed compute (data or plot)")
    p.add_argument("--compute", type=float, nargs="+", required=True, help="budgets, FLOP")
    p.add_argument("--fit", choices=["epoch", "hoffmann"], default="epoch")
    p.add_argument("--points", type=int, default=41)
    p.add_argument("--span", type=float, default=30.0, help="N from N_opt/span to N_opt·span")
    p.add_argument("--plot", help="write a PNG here (needs the `report` extra)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("gpus", help="list the accelerator catalogue")
    p.add_argument("--json", action="store_true")


def _arch(args: argparse.Namespace) -> Any:
    import tokenmill.scaling as scaling

    explicit = ["d_model", "n_layers", "n_heads", "d_ff", "vocab_size"]
    if args.preset is not None:
        given = [name for name in explicit if getattr(args, name) is not None]
        if given:
            raise ValueError(f"--preset cannot be combined with {', '.join(given)}")
        return scaling.get_preset(args.preset).architecture
    missing = [name for name in explicit if getattr(args, name) is None]
    if missing:
        raise ValueError(f"give --preset or all of: {', '.join(missing)}")
    return scaling.Architecture(
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        n_kv_heads=args.n_kv_heads,
        d_ff=args.d_ff,
        vocab_size=args.vocab_size,
        tied_embeddings=args.tied,
        mlp=args.mlp,
        norm=args.norm,
        bias=args.bias,
        positional=args.positional,
        max_seq_len=args.max_seq_len,
        n_experts=args.n_experts,
        top_k=args.top_k,
    )


def _emit(data: dict[str, Any]) -> None:
    # allow_nan=False: the output is JSON (no Infinity/NaN); a non-finite value is an error.
    print(json.dumps(data, indent=2, allow_nan=False))


def _alloc_lines(a: Any) -> list[str]:
    return [
        f"  parameters N      {a.n_params:.4g}",
        f"  tokens D          {a.n_tokens:.4g}",
        f"  tokens/parameter  {a.tokens_per_param:.1f}",
        f"  predicted loss    {a.loss:.4f} nats/token ({a.fit} fit)",
    ]


def _run_optimal(args: argparse.Namespace) -> int:
    import tokenmill.scaling as scaling

    best = scaling.compute_optimal(args.compute, args.fit)
    rule = scaling.chinchilla_rule(args.compute, args.tokens_per_param, args.fit)
    fit = scaling.FITS[args.fit]
    if args.json:
        _emit(
            {
                "compute_flop": args.compute,
                "pf_s_days": scaling.flop_to_pf_s_days(args.compute),
                "fit": dataclasses.asdict(fit),
                "optimal": dataclasses.asdict(best),
                "rule_of_thumb": dataclasses.asdict(rule),
            }
        )
        return 0
    pfsd = scaling.flop_to_pf_s_days(args.compute)
    print(f"compute {args.compute:.3g} FLOP = {pfsd:.4g} PF/s-days")
    print(f"compute-optimal ({fit.name} fit: {fit.source}):")
    print("\n".join(_alloc_lines(best)))
    print(f"rule of thumb ({rule.method}):")
    print("\n".join(_alloc_lines(rule)))
    return 0


def _train_lines(e: Any) -> list[str]:
    where = e.gpu or "custom"
    prec = f", {e.precision}" if e.precision else ""
    lines = [
        f"  {e.n_gpus} x {where}{prec} at {e.peak_flop_per_s / 1e12:g} TFLOP/s peak, MFU {e.mfu:g}",
        f"  wall clock   {e.wall_clock_days:,.1f} days",
        f"  GPU-hours    {e.gpu_hours:,.0f}",
    ]
    if e.cost_usd is not None:
        lines.append(f"  cost         ${e.cost_usd:,.0f} at ${e.price_per_gpu_hour:g}/GPU-hour")
    return lines


def _run_train(args: argparse.Namespace) -> int:
    import tokenmill.scaling as scaling

    compute, n_params, n_tokens = args.compute, args.params, args.tokens
    if args.preset is not None:
        if n_params is not None:
            raise ValueError("--preset and --params both give N; choose one")
        preset = scaling.get_preset(args.preset)
        n_params = scaling.param_count(preset.architecture).active
        if args.seq_len is not None:
            if n_tokens is None or compute is not None:
                raise ValueError("--seq-len needs --tokens (and no --compute)")
            a = preset.architecture
            per_token = scaling.training_flop_per_token(
                n_params, n_layers=a.n_layers, d_model=a.d_model, seq_len=args.seq_len
            )
            compute, n_params, n_tokens = per_token * n_tokens, None, None
    elif args.seq_len is not None:
        raise ValueError("--seq-len needs --preset (for n_layers and d_model)")
    common: dict[str, Any] = {
        "n_params": n_params,
        "n_tokens": n_tokens,
        "gpu": args.gpu,
        "precision": args.precision,
        "peak_tflop_per_s": args.peak_tflops,
        "mfu": args.mfu,
        "price_per_gpu_hour": args.price,
    }
    if (args.count is None) == (args.deadline_days is None):
        raise ValueError("give exactly one of --count and --deadline-days")
    if args.count is not None:
        est = scaling.training_estimate(compute, n_gpus=args.count, **common)
    else:
        est = scaling.gpus_for_deadline(compute, days=args.deadline_days, **common)
    if args.json:
        _emit(dataclasses.asdict(est))
        return 0
    print(f"compute {est.compute_flop:.4g} FLOP = {est.pf_s_days:,.1f} PF/s-days")
    if args.deadline_days is not None:
        print(f"GPUs needed to finish within {args.deadline_days:g} days: {est.n_gpus}")
    print("\n".join(_train_lines(est)))
    for note in est.notes:
        print(f"note: {note}")
    if est.at_bf16_peak is not None:
        print("at the dense BF16 peak instead:")
        print("\n".join(_train_lines(est.at_bf16_peak)))
    return 0


def _run_params(args: argparse.Namespace) -> int:
    import tokenmill.scaling as scaling

    counts = scaling.param_count(_arch(args))
    preset = None if args.preset is None else scaling.get_preset(args.preset)
    if args.json:
        out: dict[str, Any] = dataclasses.asdict(counts)
        if preset is not None:
            out["preset"] = preset.key
            out["published_params"] = preset.published_params
            out["published_active_params"] = preset.published_active_params
            out["source"] = preset.source
        _emit(out)
        return 0
    if preset is not None:
        print(f"{preset.name}")
    print(f"  total parameters   {counts.total:,} ({counts.total / 1e9:.2f}B)")
    print(f"  active per token   {counts.active:,} ({counts.active / 1e9:.2f}B)")
    if preset is not None:
        diff = counts.total / preset.published_params - 1
        print(f"  published          {preset.published_params / 1e9:.2f}B ({diff:+.2%})")
        print(f"  source             {preset.source}")
    return 0


def _run_memory(args: argparse.Namespace) -> int:
    import tokenmill.scaling as scaling

    mem = scaling.inference_memory(
        _arch(args),
        precision=args.precision,
        kv_precision=args.kv_precision,
        context=args.context,
        batch=args.batch,
        gpu=args.gpu,
    )
    if args.json:
        _emit(dataclasses.asdict(mem))
        return 0
    print(f"  weights ({mem.precision})     {mem.weights_gb:,.2f} GB")
    print(
        f"  KV cache ({mem.kv_precision})    {mem.kv_cache_gb:,.2f} GB "
        f"({mem.kv_bytes_per_token / 1e3:,.1f} kB/token x {mem.batch} x {mem.context})"
    )
    print(f"  total              {mem.total_gb:,.2f} GB (decimal GB, no activations/overhead)")
    if mem.gpu is not None and mem.decode_tokens_per_s_upper_bound is not None:
        print(f"  {mem.gpu}: at least {mem.n_gpus} GPU(s) to hold it")
        print(
            f"  decode bound       <= {mem.decode_tokens_per_s_upper_bound:,.0f} tokens/s "
            "(memory bandwidth)"
        )
    return 0


def _run_isoflop(args: argparse.Namespace) -> int:
    import tokenmill.scaling as scaling

    curves = [
        scaling.isoflop_curve(c, args.fit, points=args.points, span=args.span) for c in args.compute
    ]
    plot = None
    if args.plot:
        plot = str(scaling.plot_isoflops(args.compute, args.plot, args.fit, span=args.span))
    if args.json:
        _emit({"curves": [dataclasses.asdict(c) for c in curves], "plot": plot})
        return 0
    for c in curves:
        print(f"C = {c.compute_flop:.3g} FLOP ({c.fit} fit)")
        print(f"  {'N':>12}  {'D':>12}  loss")
        for n, d, loss in zip(c.n_params, c.n_tokens, c.loss, strict=True):
            print(f"  {n:12.4g}  {d:12.4g}  {loss:.4f}")
        print(f"  optimum N {c.optimum.n_params:.4g}, D {c.optimum.n_tokens:.4g}")
    if plot:
        print(f"wrote {plot}")
    return 0


def _run_gpus(args: argparse.Namespace) -> int:
    import tokenmill.scaling as scaling

    catalogue = scaling.gpus()
    if args.json:
        _emit({k: dataclasses.asdict(g) for k, g in catalogue.items()})
        return 0

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:g}"

    print("dense peak TFLOP/s (no sparsity)")
    print(f"{'key':<11} {'fp64':>6} {'tf32':>7} {'bf16':>7} {'fp8':>7} {'GB':>5} {'TB/s':>6}")
    for k, g in catalogue.items():
        print(
            f"{k:<11} {fmt(g.fp64):>6} {fmt(g.tf32):>7} {fmt(g.bf16):>7} {fmt(g.fp8):>7} "
            f"{g.memory_gb:>5g} {g.bandwidth_tb_s:>6g}"
        )
    return 0


_RUNNERS = {
    "optimal": _run_optimal,
    "train": _run_train,
    "params": _run_params,
    "memory": _run_memory,
    "isoflop": _run_isoflop,
    "gpus": _run_gpus,
}


def run(args: argparse.Namespace) -> int:
    return _RUNNERS[args.scaling_command](args)
