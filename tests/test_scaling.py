"""tokenmill.scaling: worked examples, published counts, closed form vs numeric optimum, units,
bad input, and the CLI end to end.

Expected values are computed here from the sources' numbers, never read back from the module.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tokenmill
from cli_run import cli
from tokenmill import scaling

DAY = 86_400.0

# Constants as the papers print them (typed again here, independently of the module).
HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


# ------------------------------------------------------------------------------------------
# Units
# ------------------------------------------------------------------------------------------


def test_unit_constants() -> None:
    # 1 PF/s-day: 1e15 FLOP/s for 24 h. 1 FLOP/s-day: 1 FLOP/s for 24 h = 86,400 FLOP (a count).
    assert scaling.FLOP_PER_PF_S_DAY == 8.64e19
    assert scaling.FLOP_PER_FLOP_S_DAY == 86_400
    assert scaling.pf_s_days_to_flop(1) == 8.64e19
    assert scaling.flop_to_pf_s_days(8.64e19) == 1.0
    # A PF/s-day is 1e15 FLOP/s-days.
    ratio = scaling.FLOP_PER_PF_S_DAY / scaling.FLOP_PER_FLOP_S_DAY
    assert ratio == pytest.approx(1e15)
    # GPT-3 (Brown et al. 2020, Table D.1): 3,640 PF/s-days = 3.14e23 FLOP.
    assert scaling.pf_s_days_to_flop(3640) == pytest.approx(3.14e23, rel=2e-3)
    # One GPU at 1e12 FLOP/s for an hour executes 3.6e15 FLOP.
    assert scaling.gpu_hours_to_flop(1, 1e12) == 3.6e15
    assert scaling.flop_to_gpu_hours(3.6e15, 1e12) == 1.0


@given(st.floats(min_value=1e-6, max_value=1e30, allow_nan=False))
def test_pf_s_day_round_trip(flop: float) -> None:
    back = scaling.pf_s_days_to_flop(scaling.flop_to_pf_s_days(flop))
    assert back == pytest.approx(flop, rel=1e-14)


@given(
    st.floats(min_value=1.0, max_value=1e30, allow_nan=False),
    st.floats(min_value=1e6, max_value=1e18, allow_nan=False),
)
def test_gpu_hours_round_trip(flop: float, rate: float) -> None:
    back = scaling.gpu_hours_to_flop(scaling.flop_to_gpu_hours(flop, rate), rate)
    assert back == pytest.approx(flop, rel=1e-14)


# ------------------------------------------------------------------------------------------
# Training compute and the GPT-3 worked example
# ------------------------------------------------------------------------------------------


def test_training_flop_six_n_d() -> None:
    # 6 · 175e9 · 300e9 = 3.15e23; Brown et al. 2020 report 3.14e23 (3,640 PF/s-days).
    assert scaling.training_flop(175e9, 300e9) == pytest.approx(3.15e23, rel=1e-12)


def test_training_flop_per_token_with_attention() -> None:
    # GPT-3 175B at 2,048 tokens of context: 6N + 12 · 96 · 12288 · 2048.
    per_token = scaling.training_flop_per_token(175e9, n_layers=96, d_model=12288, seq_len=2048)
    assert per_token == 6 * 175e9 + 12 * 96 * 12288 * 2048
    # Attention adds about 2.8% at this context length.
    assert per_token / (6 * 175e9) == pytest.approx(1.0276, abs=1e-3)


def test_gpt3_worked_example_full_utilisation() -> None:
    est = scaling.training_estimate(3.14e23, peak_tflop_per_s=60, n_gpus=256, mfu=1.0)
    seconds = 3.14e23 / (256 * 60e12)
    assert est.wall_clock_seconds == pytest.approx(seconds, rel=1e-12)
    assert est.wall_clock_days == pytest.approx(236.6, abs=0.01)  # "about 236 days"
    assert est.gpu_hours == pytest.approx(256 * seconds / 3600, rel=1e-12)
    assert est.notes == ()  # no GPU named, nothing to check the figure against


def test_gpt3_worked_example_seventy_percent_and_cost() -> None:
    est = scaling.training_estimate(
        3.14e23, peak_tflop_per_s=60, n_gpus=256, mfu=0.7, price_per_gpu_hour=2.0
    )
    # Exactly 338.0 days; the book's "about 337" is 236 / 0.7 after rounding 236.6 down first.
    assert est.wall_clock_days == pytest.approx(236.6054 / 0.7, rel=1e-5)
    assert est.wall_clock_days == pytest.approx(337, rel=0.005)
    # $4.153M exactly; the book's $4.14M is 337 days · 24 h · 256 GPUs · $2.
    assert est.cost_usd == pytest.approx(3.14e23 / (60e12 * 0.7) / 3600 * 2, rel=1e-12)
    assert est.cost_usd == pytest.approx(4.14e6, rel=0.005)


def test_gpt3_flags_fp64_class_throughput_on_h100() -> None:
    est = scaling.training_estimate(
        3.14e23, gpu="h100-sxm", peak_tflop_per_s=60, n_gpus=256, mfu=0.7, price_per_gpu_hour=2
    )
    assert est.wall_clock_days == pytest.approx(338.0, abs=0.05)
    assert any("FP64" in note and "67" in note and "989" in note for note in est.notes)
    alt = est.at_bf16_peak
    assert alt is not None
    assert alt.precision == "bf16"
    assert alt.peak_flop_per_s == pytest.approx(989e12, rel=1e-3)
    assert alt.mfu == 0.7
    assert alt.wall_clock_days == pytest.approx(3.14e23 / (256 * 989.5e12 * 0.7) / DAY, rel=1e-12)
    assert 20 < alt.wall_clock_days < 21


def test_plausible_throughput_is_not_flagged() -> None:
    est = scaling.training_estimate(1e23, gpu="h100-sxm", peak_tflop_per_s=900, n_gpus=8, mfu=0.5)
    assert est.notes == ()
    assert est.at_bf16_peak is None


def test_low_and_sparse_throughputs_are_flagged() -> None:
    low = scaling.training_estimate(1e23, gpu="h100-sxm", peak_tflop_per_s=150, n_gpus=8, mfu=1)
    assert any("under 25%" in n for n in low.notes)
    assert low.at_bf16_peak is not None
    sparse = scaling.training_estimate(1e23, gpu="h100-sxm", peak_tflop_per_s=3958, n_gpus=8, mfu=1)
    assert any("sparsity" in n for n in sparse.notes)


def test_training_from_params_and_tokens_on_catalogue_gpu() -> None:
    est = scaling.training_estimate(
        n_params=175e9, n_tokens=300e9, gpu="h100-sxm", n_gpus=256, mfu=0.4, price_per_gpu_hour=2
    )
    seconds = 6 * 175e9 * 300e9 / (256 * 989.5e12 * 0.4)
    assert est.compute_flop == pytest.approx(3.15e23)
    assert est.wall_clock_days == pytest.approx(seconds / DAY, rel=1e-12)
    assert est.cost_usd == pytest.approx(256 * seconds / 3600 * 2, rel=1e-12)
    assert est.pf_s_days == pytest.approx(3.15e23 / 8.64e19)
    fp8 = scaling.training_estimate(3.15e23, gpu="h100-sxm", precision="fp8", n_gpus=256, mfu=0.4)
    assert fp8.wall_clock_days == pytest.approx(est.wall_clock_days / 2, rel=1e-3)


def test_gpus_for_deadline_is_the_smallest_count() -> None:
    compute = 3.14e23
    est = scaling.gpus_for_deadline(compute, days=30, gpu="h100-sxm", mfu=0.4)
    per_gpu_days = compute / (989.5e12 * 0.4) / DAY
    assert est.n_gpus == math.ceil(per_gpu_days / 30)
    assert est.wall_clock_days <= 30
    assert per_gpu_days / (est.n_gpus - 1) > 30
    # An exact fit needs exactly that many, not one more.
    exact = 256 * 60e12 * 10 * DAY
    assert scaling.gpus_for_deadline(exact, days=10, peak_tflop_per_s=60, mfu=1).n_gpus == 256
    assert scaling.gpus_for_deadline(1.0, days=10, peak_tflop_per_s=60, mfu=1).n_gpus == 1


# ------------------------------------------------------------------------------------------
# Catalogue
# ------------------------------------------------------------------------------------------

# Dense BF16 peaks (TFLOP/s) from the vendors' datasheets, as listed in ANCHORS.md.
DENSE_BF16 = {
    "a100-40gb": 312,
    "a100-80gb": 312,
    "h100-sxm": 989,
    "h100-pcie": 756,
    "h200": 989,
    "b200": 2250,
    "mi300x": 1307,
}


def test_catalogue_covers_the_issue_and_is_sourced() -> None:
    cat = scaling.gpus()
    want = {"a10", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "b200", "mi300x"}
    assert want | {"tpu-v5e", "tpu-v5p"} <= set(cat)
    for key, gpu in cat.items():
        assert gpu.url.startswith("https://"), key
        assert gpu.source, key
        assert gpu.bf16 is not None and gpu.bf16 > 0, key
        assert gpu.memory_gb > 0 and gpu.bandwidth_tb_s > 0, key
        # Dense figures: each precision step roughly doubles throughput, never more than ~2.05x.
        if gpu.tf32 is not None:
            assert gpu.bf16 / gpu.tf32 == pytest.approx(2, rel=0.03), key
        if gpu.fp8 is not None:
            assert gpu.fp8 / gpu.bf16 == pytest.approx(2, rel=0.01), key
    for key, bf16 in DENSE_BF16.items():
        assert cat[key].bf16 == pytest.approx(bf16, rel=1e-3), key
    assert cat["h100-sxm"].fp64 == 67
    assert cat["tpu-v5e"].fp64 is None and cat["tpu-v5p"].fp8 is None


# ------------------------------------------------------------------------------------------
# Parameters from architecture
# ------------------------------------------------------------------------------------------

# Published counts, typed from the sources named in data/architectures.json.
PUBLISHED = {
    "gpt-3-175b": 175.0e9,  # Brown et al. 2020, Table 2.1
    "llama-2-7b": 6_738_415_616,  # released checkpoints (Hugging Face safetensors metadata)
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "llama-3-70b": 70_553_706_496,
    "mixtral-8x7b": 46.7e9,  # Mistral AI announcement
}


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_presets_within_one_percent_of_published(key: str) -> None:
    counts = scaling.param_count(key)
    assert counts.total == pytest.approx(PUBLISHED[key], rel=0.01)
    assert scaling.get_preset(key).published_params == pytest.approx(PUBLISHED[key], rel=1e-3)


def test_mixtral_total_and_active() -> None:
    arch = scaling.Architecture(
        d_model=4096,
        n_layers=32,
        n_heads=32,
        n_kv_heads=8,
        d_ff=14336,
        vocab_size=32000,
        tied_embeddings=False,
        mlp="gated",
        n_experts=8,
        top_k=2,
    )
    counts = scaling.param_count(arch)
    assert round(counts.total / 1e9, 1) == 46.7
    assert round(counts.active / 1e9, 1) == 12.9
    assert scaling.param_count("mixtral-8x7b") == counts


def test_llama2_7b_by_hand() -> None:
    d, ff, v, layers = 4096, 11008, 32000, 32
    per_layer = 4 * d * d + 3 * d * ff + 2 * d
    expected = layers * per_layer + 2 * v * d + d
    assert scaling.param_count("llama-2-7b").total == expected == 6_738_415_616


def test_gpt3_by_hand() -> None:
    # Per block: QKV+O weights 4d² and biases 4d, MLP 2·d·4d weights and 4d + d biases, two
    # LayerNorms (weight + bias) 4d; plus tied token embedding, learned positions, final norm.
    d, layers = 12288, 96
    block = 4 * d * d + 4 * d + 8 * d * d + 5 * d + 4 * d
    expected = layers * block + 50257 * d + 2048 * d + 2 * d
    assert scaling.param_count("gpt-3-175b").total == expected


def test_tied_plain_and_gqa_variants() -> None:
    base = dict(d_model=512, n_layers=4, n_heads=8, d_ff=2048, vocab_size=1000)
    mha = scaling.param_count(scaling.Architecture(**base))  # type: ignore[arg-type]
    gqa = scaling.param_count(scaling.Architecture(**base, n_kv_heads=2))  # type: ignore[arg-type]
    # K and V shrink from 512x512 to 512x128 each: 2 · 512 · 384 fewer per layer.
    assert mha.total - gqa.total == 4 * 2 * 512 * 384
    tied = scaling.param_count(scaling.Architecture(**base, tied_embeddings=True))  # type: ignore[arg-type]
    assert mha.total - tied.total == 1000 * 512
    plain = scaling.param_count(scaling.Architecture(**base, mlp="plain"))  # type: ignore[arg-type]
    assert mha.total - plain.total == 4 * 512 * 2048
    assert mha.active == mha.total


# ------------------------------------------------------------------------------------------
# Chinchilla loss and compute-optimal allocation
# ------------------------------------------------------------------------------------------


def _loss(p: dict[str, float], n: np.ndarray, d: np.ndarray) -> np.ndarray:
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def _numeric_optimum(p: dict[str, float], compute: float) -> tuple[float, float]:
    """Minimise L along 6·N·D = C on a fine log grid, then refine with a parabola."""
    log_n = np.linspace(np.log(1e5), np.log(compute / 6 / 1e5), 400_001)
    n = np.exp(log_n)
    losses = _loss(p, n, compute / (6 * n))
    i = int(np.argmin(losses))
    assert 0 < i < len(n) - 1
    y0, y1, y2 = losses[i - 1 : i + 2]
    h = log_n[1] - log_n[0]
    offset = 0.5 * h * (y0 - y2) / (y0 - 2 * y1 + y2)
    best = float(np.exp(log_n[i] + offset))
    return best, compute / (6 * best)


@pytest.mark.parametrize("fit", ["hoffmann", "epoch"])
@pytest.mark.parametrize("compute", [1e19, 1e21, 5.76e23, 1e24, 1e26])
def test_closed_form_matches_numeric_minimum(fit: str, compute: float) -> None:
    params = HOFFMANN if fit == "hoffmann" else EPOCH
    n_num, d_num = _numeric_optimum(params, compute)
    got = scaling.compute_optimal(compute, fit)
    assert got.n_params == pytest.approx(n_num, rel=1e-6)
    assert got.n_tokens == pytest.approx(d_num, rel=1e-6)
    assert 6 * got.n_params * got.n_tokens == pytest.approx(compute, rel=1e-12)
    assert got.loss == pytest.approx(
        float(_loss(params, np.array(n_num), np.array(d_num))), rel=1e-12
    )


def test_default_fit_reproduces_chinchilla_and_hoffmann_does_not() -> None:
    # Chinchilla: 70B parameters on 1.4T tokens with Gopher's budget, 5.76e23 FLOP.
    assert scaling.DEFAULT_FIT == "epoch"
    epoch = scaling.compute_optimal(5.76e23)
    assert epoch.n_params == pytest.approx(70e9, rel=0.05)
    assert 15 < epoch.tokens_per_param < 25
    hoffmann = scaling.compute_optimal(5.76e23, "hoffmann")
    assert hoffmann.tokens_per_param > 80
    assert hoffmann.n_params < 35e9


def test_twenty_tokens_per_parameter_rule() -> None:
    rule = scaling.chinchilla_rule(5.76e23)
    assert rule.n_params == pytest.approx(math.sqrt(5.76e23 / 120), rel=1e-12)
    assert rule.n_tokens == pytest.approx(20 * rule.n_params, rel=1e-12)
    assert rule.n_params == pytest.approx(69.3e9, rel=1e-3)  # ~ Chinchilla's 70B


def test_predicted_loss_values() -> None:
    # Chinchilla's own (N, D) under both fits, evaluated here from the printed constants.
    for fit, p in (("hoffmann", HOFFMANN), ("epoch", EPOCH)):
        expected = p["E"] + p["A"] / 70e9 ** p["alpha"] + p["B"] / 1.4e12 ** p["beta"]
        assert scaling.predicted_loss(70e9, 1.4e12, fit) == pytest.approx(expected, rel=1e-13)
    assert tokenmill.predicted_loss(70e9, 1.4e12) == scaling.predicted_loss(70e9, 1.4e12, "epoch")


def test_isoflop_curve_data() -> None:
    curve = scaling.isoflop_curve(1e21, "hoffmann", points=51, span=10)
    n = np.array(curve.n_params)
    assert len(n) == 51
    assert n[0] == pytest.approx(curve.optimum.n_params / 10)
    assert n[-1] == pytest.approx(curve.optimum.n_params * 10)
    np.testing.assert_allclose(6 * n * np.array(curve.n_tokens), 1e21, rtol=1e-12)
    np.testing.assert_allclose(curve.loss, _loss(HOFFMANN, n, np.array(curve.n_tokens)), rtol=1e-12)
    assert min(curve.loss) >= curve.optimum.loss - 1e-12
    # Convex along the line: loss falls then rises around the optimum at the middle point.
    assert int(np.argmin(curve.loss)) == 25


def test_isoflop_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = scaling.plot_isoflops([1e19, 1e21, 1e23], tmp_path / "iso.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


# ------------------------------------------------------------------------------------------
# Inference memory
# ------------------------------------------------------------------------------------------


def test_llama3_70b_int4_memory() -> None:
    mem = scaling.inference_memory(
        "llama-3-70b", precision="int4", context=8192, batch=8, gpu="h100-sxm"
    )
    weights = 70_553_706_496 * 0.5
    kv_per_token = 2 * 80 * 8 * 128 * 2  # K and V · layers · kv heads · head_dim · bf16 bytes
    kv = kv_per_token * 8192 * 8
    assert mem.kv_bytes_per_token == kv_per_token == 327_680
    assert mem.weight_bytes == weights
    assert mem.kv_cache_bytes == kv
    assert mem.total_gb == pytest.approx((weights + kv) / 1e9)
    assert mem.n_gpus == 1
    assert mem.decode_tokens_per_s_upper_bound == pytest.approx(8 * 3.35e12 / (weights + kv))


def test_memory_precisions_and_moe_active_weights() -> None:
    sizes = {
        p: scaling.inference_memory("llama-2-7b", precision=p, context=1).weight_bytes
        for p in ("fp32", "bf16", "fp8", "int8", "int4")
    }
    assert sizes["fp32"] == 4 * 6_738_415_616
    assert sizes["bf16"] == 2 * sizes["fp8"] == 2 * sizes["int8"] == 4 * sizes["int4"]
    # Llama-2 7B has no GQA: 32 KV heads of 128.
    mha = scaling.inference_memory("llama-2-7b", context=4096)
    assert mha.kv_bytes_per_token == 2 * 32 * 32 * 128 * 2
    moe = scaling.inference_memory("mixtral-8x7b", context=4096, gpu="h100-sxm")
    assert moe.active_weight_bytes < moe.weight_bytes
    assert moe.n_gpus == math.ceil(moe.total_bytes / 80e9) == 2
    assert moe.decode_tokens_per_s_upper_bound == pytest.approx(
        2 * 3.35e12 / (moe.active_weight_bytes + moe.kv_cache_bytes)
    )


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: scaling.training_flop(0, 1e9), "n_params"),
        (lambda: scaling.training_flop(1e9, -5), "n_tokens"),
        (lambda: scaling.compute_optimal(-1.0), "compute_flop"),
        (lambda: scaling.compute_optimal(float("nan")), "compute_flop"),
        (lambda: scaling.predicted_loss(0, 1), "n_params"),
        (lambda: scaling.inference_memory("llama-2-7b", context=0), "context"),
        (lambda: scaling.inference_memory("llama-2-7b", context=8, batch=-1), "batch"),
        (
            lambda: scaling.training_estimate(1e20, peak_tflop_per_s=100, n_gpus=0, mfu=0.5),
            "n_gpus",
        ),
        (
            lambda: scaling.training_estimate(1e20, peak_tflop_per_s=-1, n_gpus=1, mfu=0.5),
            "peak_tflop_per_s",
        ),
        (
            lambda: scaling.gpus_for_deadline(1e20, days=0, gpu="h100-sxm", mfu=0.5),
            "days",
        ),
        (
            lambda: scaling.Architecture(d_model=0, n_layers=1, n_heads=1, d_ff=1, vocab_size=1),
            "d_model",
        ),
    ],
)
def test_non_positive_sizes(call: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("mfu", [0.0, -0.1, 1.01, 2.0, float("nan")])
def test_mfu_outside_unit_interval(mfu: float) -> None:
    with pytest.raises(ValueError, match="mfu"):
        scaling.training_estimate(1e20, gpu="a100-80gb", n_gpus=8, mfu=mfu)
    with pytest.raises(ValueError, match="mfu"):
        scaling.gpus_for_deadline(1e20, days=1, gpu="a100-80gb", mfu=mfu)


def test_mfu_of_one_is_allowed() -> None:
    est = scaling.training_estimate(1e20, gpu="a100-80gb", n_gpus=1, mfu=1)
    assert est.wall_clock_seconds == pytest.approx(1e20 / 312e12)


def test_unknown_choices_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown gpu 'h1000'.*h100-sxm.*mi300x"):
        scaling.training_estimate(1e20, gpu="h1000", n_gpus=1, mfu=0.5)
    with pytest.raises(ValueError, match=r"unknown preset 'llama-4'.*llama-3-70b.*mixtral-8x7b"):
        scaling.param_count("llama-4")
    with pytest.raises(ValueError, match=r"unknown fit 'kaplan'.*epoch, hoffmann"):
        scaling.compute_optimal(1e20, "kaplan")
    with pytest.raises(ValueError, match=r"unknown precision 'int3'.*int4"):
        scaling.inference_memory("llama-2-7b", precision="int3", context=1)
    with pytest.raises(ValueError, match=r"precision 'fp4'.*fp64, tf32, bf16, fp8"):
        scaling.training_estimate(1e20, gpu="h100-sxm", precision="fp4", n_gpus=1, mfu=0.5)
    with pytest.raises(ValueError, match=r"no dense fp64.*bf16"):
        scaling.training_estimate(1e20, gpu="tpu-v5p", precision="fp64", n_gpus=1, mfu=0.5)


def test_inconsistent_architecture_names_the_field() -> None:
    base = dict(n_layers=2, d_ff=64, vocab_size=100)
    with pytest.raises(ValueError, match=r"n_heads \(3\) must divide d_model \(64\)"):
        scaling.Architecture(d_model=64, n_heads=3, **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"n_kv_heads \(3\) must divide n_heads \(4\)"):
        scaling.Architecture(d_model=64, n_heads=4, n_kv_heads=3, **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k"):
        scaling.Architecture(d_model=64, n_heads=4, n_experts=2, top_k=3, **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_seq_len"):
        scaling.Architecture(d_model=64, n_heads=4, positional="learned", **base)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n_layers"):
        scaling.Architecture(d_model=64, n_heads=4, n_layers=2.5, d_ff=64, vocab_size=100)  # type: ignore[arg-type]


def test_compute_given_twice_or_not_at_all() -> None:
    with pytest.raises(ValueError, match="not both"):
        scaling.training_estimate(1e20, n_params=1e9, n_tokens=1e9, gpu="a10", n_gpus=1, mfu=1)
    with pytest.raises(ValueError, match="n_tokens"):
        scaling.training_estimate(n_params=1e9, gpu="a10", n_gpus=1, mfu=1)
    with pytest.raises(ValueError, match="gpu"):
        scaling.training_estimate(1e20, n_gpus=1, mfu=1)


def test_lazy_exports() -> None:
    assert tokenmill.compute_optimal is scaling.compute_optimal
    assert tokenmill.param_count is scaling.param_count


# ------------------------------------------------------------------------------------------
# CLI end to end
# ------------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cli("scaling", *args, timeout=120)


def _json(*args: str) -> dict[str, object]:
    result = _cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_cli_optimal() -> None:
    for fit, params in (("epoch", EPOCH), ("hoffmann", HOFFMANN)):
        out = _json("optimal", "--compute", "1e24", "--fit", fit)
        n, _ = _numeric_optimum(params, 1e24)
        assert out["optimal"]["n_params"] == pytest.approx(n, rel=1e-6)  # type: ignore[index]
        assert out["rule_of_thumb"]["tokens_per_param"] == 20  # type: ignore[index]
        assert out["pf_s_days"] == pytest.approx(1e24 / 8.64e19)


def test_cli_train() -> None:
    out = _json(
        "train", "--params", "175e9", "--tokens", "300e9", "--gpu", "h100-sxm",
        "--count", "256", "--mfu", "0.4", "--price", "2",
    )  # fmt: skip
    seconds = 3.15e23 / (256 * 989.5e12 * 0.4)
    assert out["wall_clock_days"] == pytest.approx(seconds / DAY)
    assert out["cost_usd"] == pytest.approx(256 * seconds / 3600 * 2)
    flagged = _json(
        "train", "--compute", "3.14e23", "--gpu", "h100-sxm", "--peak-tflops", "60",
        "--count", "256", "--mfu", "0.7", "--price", "2",
    )  # fmt: skip
    assert flagged["wall_clock_days"] == pytest.approx(338.0, abs=0.05)
    assert flagged["notes"] and "FP64" in flagged["notes"][0]  # type: ignore[index]
    assert flagged["at_bf16_peak"]["peak_flop_per_s"] == 989.5e12  # type: ignore[index]
    # Mixtral trains with its active parameters; --seq-len adds the attention term.
    moe = _json(
        "train", "--preset", "mixtral-8x7b", "--tokens", "1e12", "--gpu", "h100-sxm",
        "--count", "64", "--mfu", "0.4",
    )  # fmt: skip
    assert moe["compute_flop"] == pytest.approx(6 * 12_879_925_248 * 1e12)
    attn = _json(
        "train", "--preset", "mixtral-8x7b", "--tokens", "1e12", "--seq-len", "4096",
        "--gpu", "h100-sxm", "--count", "64", "--mfu", "0.4",
    )  # fmt: skip
    assert attn["compute_flop"] == pytest.approx(
        (6 * 12_879_925_248 + 12 * 32 * 4096 * 4096) * 1e12
    )
    deadline = _json(
        "train", "--compute", "3.14e23", "--gpu", "h100-sxm", "--deadline-days", "30",
        "--mfu", "0.4",
    )  # fmt: skip
    assert deadline["n_gpus"] == math.ceil(3.14e23 / (989.5e12 * 0.4) / DAY / 30)
    text = _cli("train", "--compute", "3.14e23", "--gpu", "h100-sxm", "--peak-tflops", "60",
                "--count", "256", "--mfu", "0.7")  # fmt: skip
    assert text.returncode == 0 and "FP64-class" in text.stdout


def test_cli_params() -> None:
    out = _json("params", "--preset", "mixtral-8x7b")
    assert round(out["total"] / 1e9, 1) == 46.7  # type: ignore[operator]
    assert round(out["active"] / 1e9, 1) == 12.9  # type: ignore[operator]
    explicit = _json(
        "params", "--d-model", "4096", "--layers", "32", "--heads", "32", "--kv-heads", "8",
        "--d-ff", "14336", "--vocab", "32000", "--experts", "8", "--top-k", "2",
    )  # fmt: skip
    assert explicit["total"] == out["total"]
    assert explicit["active"] == out["active"]


def test_cli_memory() -> None:
    out = _json(
        "memory", "--preset", "llama-3-70b", "--precision", "int4", "--context", "8192",
        "--batch", "8",
    )  # fmt: skip
    assert out["weight_bytes"] == 70_553_706_496 * 0.5
    assert out["kv_cache_bytes"] == 2 * 80 * 8 * 128 * 2 * 8192 * 8
    assert out["decode_tokens_per_s_upper_bound"] is None


def test_cli_isoflop_and_gpus(tmp_path: Path) -> None:
    out = _json("isoflop", "--compute", "1e20", "1e22", "--points", "9")
    curves = out["curves"]
    assert isinstance(curves, list) and len(curves) == 2
    assert len(curves[0]["n_params"]) == 9
    cat = _json("gpus")
    assert cat["h100-sxm"]["bf16"] == 989.5  # type: ignore[index]
    if _has_matplotlib():
        png = tmp_path / "iso.png"
        plotted = _json("isoflop", "--compute", "1e20", "--plot", str(png))
        assert plotted["plot"] == str(png)
        assert png.read_bytes()[:4] == b"\x89PNG"


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--compute", "1e23", "--gpu", "h1000", "--count", "1", "--mfu", "0.5"),
         "valid choices"),
        (("train", "--compute", "1e23", "--gpu", "a10", "--count", "1", "--mfu", "1.5"), "mfu"),
        (("params", "--preset", "gpt-5"), "valid choices"),
        (("params", "--d-model", "100", "--layers", "2", "--heads", "3", "--d-ff", "8",
          "--vocab", "10"), "n_heads"),
        (("params", "--d-model", "64"), "give --preset or all of"),
        (("memory", "--preset", "llama-3-8b", "--context", "0"), "context"),
        (("optimal", "--compute", "-1"), "compute_flop"),
    ],
)  # fmt: skip
def test_cli_errors(args: tuple[str, ...], message: str) -> None:
    result = _cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
