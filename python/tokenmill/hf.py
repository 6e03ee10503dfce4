"""Hugging Face transformers adapter: ``model.generate(...)`` sampling with tokenmill.

Two spellings of the same thing::

    from tokenmill.hf import generate, tokenmill_decoding
    out = generate(model, input_ids, do_sample=True, top_p=0.9, max_new_tokens=64, seed=[7, 8])
    out = model.generate(input_ids, do_sample=True, top_p=0.9, max_new_tokens=64,
                         custom_generate=tokenmill_decoding, seed=[7, 8])

``tokenmill_decoding`` is a decoding loop for transformers' ``custom_generate`` extension point:
``generate`` prepares the inputs, the KV cache, the stopping criteria (``max_new_tokens``,
``eos_token_id``, stop strings, your own) and the logits processors as usual, then this loop runs
the model step by step and draws each token with :class:`tokenmill.BatchSampler`. It returns what
``generate`` returns: the sequences tensor, or with ``return_dict_in_generate=True`` a
``GenerateDecoderOnlyOutput`` whose ``scores`` (``output_scores``) are the processed scores Hugging
Face defines (after processors, divided by the temperature, ``-inf`` outside the kept set) and
``logits`` (``output_logits``) the raw logits. A ``streamer`` receives the prompt and each new
token, and ``end()`` at the finish (with ``model.generate`` pass it as ``stream_to=`` as well:
transformers hands a ``custom_generate`` callable only its own new arguments).

Which sampling parameters tokenmill takes over (read from the warpers ``generate`` built from the
``GenerationConfig``, so the values are exactly the ones Hugging Face would apply):

================================  ======================================================
GenerationConfig                  tokenmill
================================  ======================================================
``do_sample=False``               ``temperature=0`` (greedy: lowest id among the maxima)
``temperature``                   ``temperature``
``top_k``                         ``top_k``
``top_p``                         ``top_p``
``min_p``                         ``min_p`` (relative to the top token, as HF)
``typical_p``                     ``typical_p``
``repetition_penalty``            ``repetition_penalty`` over the prompt and generated ids
other logits processors           run by transformers first, as in ``generate``
``epsilon_cutoff``, ``eta_cutoff``  not supported: a ``ValueError`` names them
``top_h``, ``min_tokens_to_keep > 1``
================================  ======================================================

Seeds: ``seed`` is an int (every row) or one int per row; each row's tokens depend only on its
seed, its own logits and its step, so a sequence gives the same tokens whatever else is in the
batch. ``seed=None`` draws seeds from the OS. transformers and torch come with the extra
``tokenmill[hf]``; this module imports them only when used.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tokenmill.batching import BatchSampler
from tokenmill.sampling import SamplingParams, kept_mask

if TYPE_CHECKING:
    import torch

__all__ = ["TokenmillStep", "generate", "sampling_params", "tokenmill_decoding"]

# Warper / processor class name -> (tokenmill parameter, attribute holding its value).
_TAKEN_OVER = {
    "TemperatureLogitsWarper": ("temperature", "temperature"),
    "TopKLogitsWarper": ("top_k", "top_k"),
    "TopPLogitsWarper": ("top_p", "top_p"),
    "MinPLogitsWarper": ("min_p", "min_p"),
    "TypicalLogitsWarper": ("typical_p", "mass"),
    "RepetitionPenaltyLogitsProcessor": ("repetition_penalty", "penalty"),
}
_UNSUPPORTED = ("EpsilonLogitsWarper", "EtaLogitsWarper", "TopHLogitsWarper")


def sampling_params(
    logits_processor: Sequence[Any], do_sample: bool
) -> tuple[dict[str, float], list[Any]]:
    """Split the processors ``generate`` built into tokenmill's parameters and the processors
    transformers keeps running (in their order)."""
    params: dict[str, float] = {}
    rest: list[Any] = []
    for proc in logits_processor:
        name = type(proc).__name__
        if name in _UNSUPPORTED:
            raise ValueError(f"tokenmill's generate does not support {name}; drop that setting")
        taken = _TAKEN_OVER.get(name)
        if taken is None:
            rest.append(proc)
            continue
        keep = int(getattr(proc, "min_tokens_to_keep", 1))
        if keep > 1:
            raise ValueError(
                f"tokenmill keeps at least one token; {name} asks min_tokens_to_keep={keep}"
            )
        params[taken[0]] = float(getattr(proc, taken[1]))
    if not do_sample:
        params["temperature"] = 0.0
        for k in ("top_k", "top_p", "min_p", "typical_p"):
            params.pop(k, None)
    if "top_k" in params:
        params["top_k"] = int(params["top_k"])
    return params, rest


def _seeds(seed: int | Sequence[int] | None, batch: int) -> list[int]:
    if seed is None:
        return [int.from_bytes(os.urandom(8), "little") for _ in range(batch)]
    if isinstance(seed, (int, np.integer)):
        return [int(seed)] * batch
    seeds = [int(s) for s in seed]
    if len(seeds) != batch:
        raise ValueError(f"seed has {len(seeds)} values for a batch of {batch}")
    return seeds


def _scores(scores: torch.Tensor, params: dict[str, float], history: object) -> torch.Tensor:
    """Hugging Face's processed scores: ``scores / T`` (greedy: unscaled) with ``-inf`` outside
    the kept set, after the repetition penalty."""
    import torch

    x = scores.numpy()
    t = params.get("temperature", 1.0)
    kw = {k: v for k, v in params.items() if k != "repetition_penalty"}
    rp = params.get("repetition_penalty", 1.0)
    keep = kept_mask(x, SamplingParams(repetition_penalty=rp, token_history=history, **kw))
    if rp != 1.0:
        ids = torch.as_tensor(np.asarray(history), dtype=torch.long)
        gathered = torch.gather(scores, 1, ids)
        gathered = torch.where(gathered < 0, gathered * rp, gathered / rp)
        scores = scores.scatter(1, ids, gathered)
    out = scores / t if t > 0 else scores.clone()
    return out.masked_fill(~torch.from_numpy(keep), float("-inf"))


class TokenmillStep:
    """The sampling part of one decode step inside ``generate``: transformers' remaining logits
    processors, then tokenmill's draw for every row (a :class:`tokenmill.BatchSampler` with one
    request per row: its seed, its step counter, the prompt and generated ids as history).
    ``tokenmill bench`` times exactly this against transformers' own step."""

    def __init__(
        self,
        input_ids: torch.Tensor,
        logits_processor: Sequence[Any],
        do_sample: bool,
        seed: int | Sequence[int] | None,
    ) -> None:
        import torch

        self.params, self.processors = sampling_params(logits_processor, do_sample)
        batch = int(input_ids.shape[0])
        self.sampler = BatchSampler()
        self.ids = np.arange(batch, dtype=np.uint64)
        prompt = input_ids.cpu().numpy()
        for r, s in enumerate(_seeds(seed, batch)):
            self.sampler.add(r, SamplingParams(seed=s, **self.params), history=prompt[r])
        # Looked up once: the per-step path below is one sampling call between two conversions.
        self._from_numpy = torch.from_numpy
        self._step = self.sampler.step
        # The numpy view of the last logits tensor: a decode loop that writes every step's
        # logits into one buffer (as tokenmill_decoding does) converts it once.
        self._last: tuple[Any, int, Any, np.ndarray[Any, Any]] | None = None

    def __call__(self, input_ids: torch.Tensor, logits: torch.Tensor) -> tuple[Any, Any]:
        """``(next_tokens, processed_scores)`` for float32 CPU ``logits`` ``[batch, vocab]``.
        ``next_tokens`` is a new tensor each call."""
        processed = logits
        for proc in self.processors:
            processed = proc(input_ids, processed)
        last = self._last
        if (
            last is not None
            and processed is last[0]
            and processed.data_ptr() == last[1]
            and processed.shape == last[2]
        ):
            x = last[3]  # same tensor, same memory, same shape: the view is still exact
        else:
            # A view of the tensor's memory (detached first only when it tracks gradients).
            x = (processed.detach() if processed.requires_grad else processed).numpy()
            self._last = (processed, processed.data_ptr(), processed.shape, x)
        return self._from_numpy(self._step(x, self.ids)), processed


def tokenmill_decoding(
    model: Any,
    input_ids: torch.Tensor,
    logits_processor: Any,
    stopping_criteria: Any,
    generation_config: Any,
    synced_gpus: bool = False,
    streamer: Any = None,
    seed: int | Sequence[int] | None = None,
    stream_to: Any = None,
    **model_kwargs: Any,
) -> Any:
    """A decoding loop for ``model.generate(custom_generate=tokenmill_decoding, ...)``; see the
    module notes. ``seed`` (an int, one per row, or ``None``) is tokenmill's. transformers does not
    hand ``streamer`` to a ``custom_generate`` callable (it puts only the prompt there): pass the
    streamer as ``stream_to=`` too, or call :func:`generate`, which does both."""
    import torch
    from transformers.generation import utils

    if model.config.is_encoder_decoder:
        raise ValueError("tokenmill's generate supports decoder-only models")
    if synced_gpus:
        raise ValueError("tokenmill samples on CPU in one process; synced_gpus is not supported")
    streamer = stream_to if stream_to is not None else streamer
    cfg = generation_config
    want_dict = bool(cfg.return_dict_in_generate)
    want_scores = want_dict and bool(cfg.output_scores)
    want_logits = want_dict and bool(cfg.output_logits)
    step = TokenmillStep(input_ids, logits_processor, bool(cfg.do_sample), seed)
    batch = int(input_ids.shape[0])
    pad = cfg._pad_token_tensor
    has_eos = any(hasattr(c, "eos_token_id") for c in stopping_criteria)
    unfinished = torch.ones(batch, dtype=torch.long, device=input_ids.device)
    scores: tuple[torch.Tensor, ...] = ()
    raw: tuple[torch.Tensor, ...] = ()
    first = True
    logits: torch.Tensor | None = None
    while True:
        if first:
            inputs = model.prepare_inputs_for_generation(
                input_ids, is_first_iteration=True, **model_kwargs
            )
        else:
            step_len = 1 if model_kwargs.get("use_cache", True) else None
            inputs = model.prepare_inputs_for_generation(
                input_ids, next_sequence_length=step_len, **model_kwargs
            )
        first = False
        outputs = model(**inputs, return_dict=True)
        model_kwargs = model._update_model_kwargs_for_generation(
            outputs, model_kwargs, is_encoder_decoder=False
        )
        last = outputs.logits[:, -1]
        if logits is None or logits.shape != last.shape:
            logits = torch.empty(last.shape, dtype=torch.float32)
        logits.copy_(last)  # one float32 CPU buffer for every step (the step reuses its view)
        next_tokens, processed = step(input_ids, logits)
        next_tokens = next_tokens.to(input_ids.device)
        if want_scores:
            scores += (_scores(processed.detach(), step.params, input_ids.cpu().numpy()),)
        if want_logits:
            raw += (logits.clone(),)
        if has_eos and pad is not None:
            next_tokens = next_tokens * unfinished + pad.to(input_ids.device) * (1 - unfinished)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
        if streamer is not None:
            streamer.put(next_tokens.cpu())
        unfinished = unfinished & ~stopping_criteria(input_ids, scores)
        del outputs
        if unfinished.max() == 0:
            break
    if streamer is not None:
        streamer.end()
    if not want_dict:
        return input_ids
    output: Any = utils.GenerateDecoderOnlyOutput
    names = {f.name for f in dataclasses.fields(output)}
    cache = next((model_kwargs[k] for k in ("past_key_values", "cache") if k in model_kwargs), None)
    return output(
        sequences=input_ids,
        scores=scores if want_scores else None,
        logits=raw if want_logits else None,
        attentions=None,
        hidden_states=None,
        **{"cache" if "cache" in names else "past_key_values": cache},
    )


def generate(
    model: Any,
    *args: Any,
    seed: int | Sequence[int] | None = None,
    streamer: Any = None,
    **kwargs: Any,
) -> Any:
    """``model.generate(*args, **kwargs)`` with tokenmill's sampling (the same arguments and
    return types; ``seed`` as in :func:`tokenmill_decoding`)."""
    return model.generate(
        *args,
        custom_generate=tokenmill_decoding,
        seed=seed,
        streamer=streamer,
        stream_to=streamer,
        **kwargs,
    )
