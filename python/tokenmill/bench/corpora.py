"""Bench inputs, assembled offline from what every install already has.

Design notes
------------
Nothing is downloaded and nothing large is shipped: the corpora are built from tokenmill's own
package data and from files present on any Python install, in a fixed order, so two runs on the
same machine read the same bytes. Nothing outside the Python installation is read, and building a
corpus changes nothing in the running process.

* ``english`` — docstrings of the Python standard library's ``.py`` files (module, class and
  function docstrings, found without importing anything), after the Python reference topics
  that ``pydoc`` shows (``pydoc_data.topics``), in sorted order.
* ``multilingual`` — tokenmill's built-in parallel corpus (``data/parallel_corpus.jsonl``, every
  non-English language's sentences), followed by text generated from it: each further line joins
  three sentences of one language drawn with a fixed seed, languages taking turns, so every script
  is represented at any size and two runs anywhere read the same bytes.
* ``code`` — the standard library's ``.py`` sources themselves.
* adversarial single "words" with no whitespace: ``'a' * N``, ``N`` random letters ``[a-z]`` and
  ``N`` random base64 characters (fixed seed).

Each corpus is cut into documents of about ``DOC_BYTES`` at line boundaries; one call per document.
Cost: one pass over the source files, linear in the bytes kept.
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
import re
import string
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenmill._data import read_text

DOC_BYTES = 64 * 1024
_BASE64 = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class Corpus:
    """A named list of documents and where it came from."""

    name: str
    docs: tuple[str, ...]
    source: str

    @property
    def n_bytes(self) -> int:
        return sum(len(d.encode("utf-8")) for d in self.docs)


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__")
    return sorted(
        p for p in root.rglob("*.py") if not any(part in skip for part in p.relative_to(root).parts)
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


_TRIPLE = re.compile(r'"""(.*?)"""', re.DOTALL)


def _docstrings(source: str) -> Iterator[str]:
    # Triple-quoted strings are, in the stdlib, nearly always docstrings; a regex is ~20x faster
    # than ast.parse and keeps the corpus build to a second.
    for m in _TRIPLE.finditer(source):
        doc = inspect.cleandoc(m.group(1))
        if len(doc) > 80 and sum(c.isalpha() or c.isspace() for c in doc) > 0.85 * len(doc):
            yield doc


def _take(parts: Iterator[str], limit: int) -> str:
    out: list[str] = []
    size = 0
    for part in parts:
        n = len(part.encode("utf-8"))
        if size + n > limit:
            break
        out.append(part)
        size += n
    return "".join(out)


def split_docs(text: str, doc_bytes: int = DOC_BYTES) -> tuple[str, ...]:
    """Cut ``text`` into documents of about ``doc_bytes`` UTF-8 bytes, at line boundaries."""
    docs: list[str] = []
    cur: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        size += len(line.encode("utf-8"))
        if size >= doc_bytes:
            docs.append("".join(cur))
            cur, size = [], 0
    if cur:
        docs.append("".join(cur))
    return tuple(docs)


def english(limit: int, doc_bytes: int = DOC_BYTES) -> Corpus:
    """English prose: the Python reference topics (``pydoc_data``) and stdlib docstrings."""

    def parts() -> Iterator[str]:
        try:
            topics: dict[str, str] = dict(importlib.import_module("pydoc_data.topics").topics)
        except ImportError:  # some distributions strip pydoc_data
            topics = {}
        for key in sorted(topics):
            yield topics[key] + "\n\n"
        for path in _stdlib_files():
            src = _read(path)
            if src is not None:
                for doc in _docstrings(src):
                    yield doc + "\n\n"

    return Corpus(
        "english",
        split_docs(_take(parts(), limit), doc_bytes),
        "Python reference topics (pydoc_data) + stdlib docstrings",
    )


def code(limit: int, doc_bytes: int = DOC_BYTES) -> Corpus:
    """Source code: stdlib ``.py`` files, up to ``limit`` bytes."""

    def parts() -> Iterator[str]:
        for path in _stdlib_files():
            src = _read(path)
            if src is not None:
                yield src

    return Corpus("code", split_docs(_take(parts(), limit), doc_bytes), "Python stdlib sources")


def _sentences_by_language() -> dict[str, list[str]]:
    """Non-English sentences of the built-in parallel corpus, by language, in id order."""
    try:
        lines = read_text("parallel_corpus.jsonl").splitlines()
    except OSError:
        return {}
    records: list[tuple[str, str, str]] = []
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict):
            continue
        lang, sid, text = rec.get("lang"), rec.get("id"), rec.get("text")
        if isinstance(lang, str) and isinstance(text, str) and not lang.startswith("eng"):
            records.append((str(sid), lang, text))
    by_lang: dict[str, list[str]] = {}
    for _, lang, text in sorted(records):
        by_lang.setdefault(lang, []).append(text)
    return by_lang


def _multilingual_lines(by_lang: dict[str, list[str]], seed: int = 0) -> Iterator[str]:
    """Every sentence once (sentence by sentence across languages, so any prefix holds every
    language), then without end: per language in turn, three of its sentences drawn at random."""
    langs = sorted(by_lang)
    if not langs:
        return
    longest = max(len(v) for v in by_lang.values())
    for i in range(longest):
        for lang in langs:
            if i < len(by_lang[lang]):
                yield by_lang[lang][i] + "\n"
    rng = random.Random(seed)
    while True:
        for lang in langs:
            yield " ".join(rng.choices(by_lang[lang], k=3)) + "\n"


def multilingual(limit: int, doc_bytes: int = DOC_BYTES) -> Corpus:
    """Multilingual text: tokenmill's parallel corpus, then lines generated from it (fixed seed)."""
    by_lang = _sentences_by_language()
    text = _take(_multilingual_lines(by_lang), limit)
    source = (
        f"tokenmill parallel corpus ({len(by_lang)} non-English languages), then lines of three "
        "of its sentences drawn with a fixed seed"
        if by_lang
        else "(none found)"
    )
    return Corpus("multilingual", split_docs(text, doc_bytes), source)


def adversarial(kind: str, n: int, seed: int = 0) -> str:
    """One whitespace-free string of ``n`` characters: ``a`` repeated, random letters or base64."""
    rng = random.Random(seed)
    if kind == "a*N":
        return "a" * n
    if kind == "letters":
        return "".join(rng.choices(string.ascii_lowercase, k=n))
    if kind == "base64":
        return "".join(rng.choices(_BASE64, k=n))
    raise ValueError(f"unknown adversarial kind {kind!r} (expected 'a*N', 'letters' or 'base64')")


ADVERSARIAL_KINDS = ("a*N", "letters", "base64")
