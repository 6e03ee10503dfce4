"""Parameters from a transformer architecture (``data/architectures.json`` presets) and the
memory to serve it: weights, a GQA-aware KV cache and a bandwidth bound on decode speed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, Literal

from tokenmill.scaling.checks import choice, positive_int
from tokenmill.scaling.hardware import Gpu, get_gpu, load_data
from tokenmill.scaling.units import BYTES_PER_PARAM

__all__ = [
    "Architecture",
    "InferenceMemory",
    "ParamCount",
    "Preset",
    "get_preset",
    "inference_memory",
    "param_count",
    "presets",
]


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer. See ``data/architectures.json`` for field meanings."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    vocab_size: int
    n_kv_heads: int | None = None
    tied_embeddings: bool = False
    mlp: Literal["gated", "plain"] = "gated"
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    bias: bool = False
    positional: Literal["rope", "learned"] = "rope"
    max_seq_len: int | None = None
    n_experts: int = 1
    top_k: int = 1

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_ff", "vocab_size", "n_experts", "top_k"):
            positive_int(name, getattr(self, name))
        if self.n_kv_heads is not None:
            positive_int("n_kv_heads", self.n_kv_heads)
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must divide d_model ({self.d_model})")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_kv_heads ({self.kv_heads}) must divide n_heads ({self.n_heads})")
        if self.top_k > self.n_experts:
            raise ValueError(f"top_k ({self.top_k}) must not exceed n_experts ({self.n_experts})")
        if self.mlp not in ("gated", "plain"):
            raise ValueError(f"mlp must be 'gated' or 'plain', got {self.mlp!r}")
        if self.norm not in ("rmsnorm", "layernorm"):
            raise ValueError(f"norm must be 'rmsnorm' or 'layernorm', got {self.norm!r}")
        if self.positional not in ("rope", "learned"):
            raise ValueError(f"positional must be 'rope' or 'learned', got {self.positional!r}")
        if self.positional == "learned":
            if self.max_seq_len is None:
                raise ValueError("max_seq_len is required with learned positional embeddings")
            positive_int("max_seq_len", self.max_seq_len)
        elif self.max_seq_len is not None:
            positive_int("max_seq_len", self.max_seq_len)

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class ParamCount:
    """Parameter totals. ``active`` counts one token's path (top_k experts); equal to ``total``
    for dense models."""

    total: int
    active: int
    embedding: int
    attention_per_layer: int
    mlp_per_expert: int
    router_per_layer: int
    norms: int


def param_count(arch: Architecture | str) -> ParamCount:
    """Total and active parameters of ``arch`` (an Architecture or a preset name).

    Per layer: Q and O are d·(h·hd), K and V are d·(kv·hd) each; a gated MLP (SwiGLU) has three
    d×d_ff matrices, a plain one two; a MoE layer has n_experts MLPs and a d×n_experts router;
    two norms per layer and one final (LayerNorm: weight and bias, RMSNorm: weight). Embedding
    vocab·d, plus the same again for an untied output head and max_seq_len·d for learned
    positions. Exact for the presets' released checkpoints (Llama, Mixtral).
    """
    a = get_preset(arch).architecture if isinstance(arch, str) else arch
    d, hd = a.d_model, a.head_dim
    q_width, kv_width = a.n_heads * hd, a.kv_heads * hd
    attention = d * q_width + 2 * d * kv_width + q_width * d
    if a.bias:
        attention += q_width + 2 * kv_width + d
    matrices = 3 if a.mlp == "gated" else 2
    mlp = matrices * d * a.d_ff
    if a.bias:
        mlp += (matrices - 1) * a.d_ff + d
    router = d * a.n_experts if a.n_experts > 1 else 0
    norm_size = 2 * d if a.norm == "layernorm" else d
    norms = (2 * a.n_layers + 1) * norm_size
    embedding = a.vocab_size * d * (1 if a.tied_embeddings else 2)
    if a.positional == "learned" and a.max_seq_len is not None:
        embedding += a.max_seq_len * d
    shared = embedding + norms + a.n_layers * (attention + router)
    total = shared + a.n_layers * a.n_experts * mlp
    active = shared + a.n_layers * a.top_k * mlp
    return ParamCount(total, active, embedding, attention, mlp, router, norms)


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    architecture: Architecture
    published_params: float
    published_active_params: float | None
    source: str
    url: str


@cache
def _presets() -> dict[str, Preset]:
    raw: dict[str, dict[str, Any]] = load_data("architectures.json")["presets"]
    out: dict[str, Preset] = {}
    arch_fields = {f.name for f in fields(Architecture)}
    for key, entry in raw.items():
        arch = Architecture(**{k: v for k, v in entry.items() if k in arch_fields})
        out[key] = Preset(
            key=key,
            name=entry["name"],
            architecture=arch,
            published_params=float(entry["published_params"]),
            published_active_params=(
                None
                if entry["published_active_params"] is None
                else float(entry["published_active_params"])
            ),
            source=entry["source"],
            url=entry["url"],
        )
    return out


def presets() -> dict[str, Preset]:
    """Architecture presets keyed by name (``"llama-3-70b"``, ``"mixtral-8x7b"``...)."""
    return dict(_presets())


def get_preset(key: str) -> Preset:
    """Look up a preset; an unknown name raises ValueError listing the valid ones."""
    preset: Preset = choice("preset", key, _presets())
    return preset


@dataclass(frozen=True)
class InferenceMemory:
    """Bytes to serve a model, and a bandwidth bound on decode speed when a GPU is given.

    Sizes are bytes; ``*_gb`` are decimal GB (10^9 bytes). ``n_gpus`` is the fewest devices whose
    memory holds weights + KV cache (activations and runtime overhead are not counted, so real
    deployments need more); the decode bound uses their combined bandwidth.
    """

    precision: str
    kv_precision: str
    batch: int
    context: int
    weight_bytes: float
    active_weight_bytes: float
    kv_bytes_per_token: float
    kv_cache_bytes: float
    total_bytes: float
    weights_gb: float
    kv_cache_gb: float
    total_gb: float
    gpu: str | None = None
    n_gpus: int | None = None
    decode_tokens_per_s_upper_bound: float | None = None


def inference_memory(
    arch: Architecture | str,
    *,
    precision: str = "bf16",
    kv_precision: str = "bf16",
    context: int,
    batch: int = 1,
    gpu: str | Gpu | None = None,
    n_gpus: int | None = None,
) -> InferenceMemory:
    """Weights, GQA-aware KV cache and (with ``gpu``) a decode tokens/s upper bound.

    KV cache = 2 · n_layers · n_kv_heads · head_dim · bytes(kv_precision) · batch · context.
    Decode bound = batch · bandwidth · n_gpus / (active weight bytes + KV cache bytes): each step
    emits one token per sequence and must read at least that much memory.
    """
    a = get_preset(arch).architecture if isinstance(arch, str) else arch
    w_bytes = choice("precision", precision, BYTES_PER_PARAM)
    kv_b = choice("kv_precision", kv_precision, BYTES_PER_PARAM)
    ctx = positive_int("context", context)
    bsz = positive_int("batch", batch)
    counts = param_count(a)
    weights = counts.total * w_bytes
    active = counts.active * w_bytes
    per_token = 2.0 * a.n_layers * a.kv_heads * a.head_dim * kv_b
    kv = per_token * ctx * bsz
    total = weights + kv
    result = InferenceMemory(
        precision=precision,
        kv_precision=kv_precision,
        batch=bsz,
        context=ctx,
        weight_bytes=weights,
        active_weight_bytes=active,
        kv_bytes_per_token=per_token,
        kv_cache_bytes=kv,
        total_bytes=total,
        weights_gb=weights / 1e9,
        kv_cache_gb=kv / 1e9,
        total_gb=total / 1e9,
    )
    if gpu is None:
        if n_gpus is not None:
            raise ValueError("n_gpus needs a gpu")
        return result
    device = get_gpu(gpu)
    fewest = max(1, math.ceil(total / (device.memory_gb * 1e9)))
    count = fewest if n_gpus is None else positive_int("n_gpus", n_gpus)
    if count < fewest:
        raise ValueError(
            f"n_gpus ({count}) cannot hold {total / 1e9:.1f} GB on {device.name} "
            f"({device.memory_gb:g} GB each); at least {fewest} needed"
        )
    bound = bsz * device.bandwidth_tb_s * 1e12 * count / (active + kv)
    return dataclasses.replace(
        result, gpu=device.key, n_gpus=count, decode_tokens_per_s_upper_bound=bound
    )
