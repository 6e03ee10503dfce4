"""Bench inputs, assembled offline from what every install already has.

Design notes
------------
Nothing is downloaded and nothing large is shipped: the corpora are built from files present on
any Python install (and, where present, on the operating system), in a fixed order, so two runs on
the same machine read the same bytes.

* ``english`` — docstrings of the Python standard library's ``.py`` files (module, class and
  function docstrings, found without importing anything), after the Python reference topics
  that ``pydoc`` shows (``pydoc_data.topics``), in sorted order.
* ``multilingual`` — tokenmill's built-in parallel corpus (``tokenmill/data/parallel_corpus.jsonl``,
  every language's sentences) followed by the translated strings (``msgstr``) of the gettext
  ``.mo`` catalogues under ``/usr/share/locale`` (English catalogues skipped), an equal share of
  bytes from each catalogue so that all languages are represented.
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
import struct
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOC_BYTES = 64 * 1024
LOCALE_DIR = Path("/usr/share/locale")
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


def mo_strings(path: Path) -> Iterator[str]:
    """Translated strings (``msgstr``) of a GNU gettext ``.mo`` file; none if it is unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    if len(data) < 20:
        return
    magic = struct.unpack("<I", data[:4])[0]
    fmt = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if fmt is None:
        return
    n, _orig, trans = struct.unpack(fmt + "III", data[8:20])
    for i in range(n):
        off = trans + 8 * i
        if off + 8 > len(data):
            break
        length, start = struct.unpack(fmt + "II", data[off : off + 8])
        if i == 0 or start + length > len(data):
            continue  # entry 0 is the catalogue header
        try:
            text = data[start : start + length].decode("utf-8")
        except UnicodeDecodeError:
            continue
        yield from (s for s in text.split("\x00") if s.strip())


def _parallel_corpus_text() -> str:
    """Non-English sentences of the built-in parallel corpus, sentence by sentence across languages
    (so any prefix holds every language)."""
    path = Path(__file__).resolve().parent.parent / "data" / "parallel_corpus.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
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
    records.sort()
    return "".join(text + "\n" for _, _, text in records)


def _mo_files() -> list[Path]:
    if not LOCALE_DIR.is_dir():
        return []
    return sorted(
        p
        for p in LOCALE_DIR.glob("*/LC_MESSAGES/*.mo")
        if not p.relative_to(LOCALE_DIR).parts[0].startswith("en")
    )


def multilingual(limit: int, doc_bytes: int = DOC_BYTES) -> Corpus:
    """Multilingual text: tokenmill's parallel corpus, then gettext translations (equal shares).

    When both exist the parallel corpus gets at most half of ``limit``.
    """
    mo_files = _mo_files()
    head = _parallel_corpus_text()
    head = _take(iter(head.splitlines(keepends=True)), limit // 2 if mo_files else limit)
    sources = ["tokenmill parallel corpus (non-English)"] if head else []
    rest = limit - len(head.encode("utf-8"))
    body = ""
    if mo_files and rest > 0:
        share = max(rest // len(mo_files), 256)
        chunks: list[str] = []
        total = 0
        for path in mo_files:
            piece = _take(iter(s + "\n" for s in mo_strings(path)), share)
            chunks.append(piece)
            total += len(piece.encode("utf-8"))
            if total >= rest:
                break
        body = _take(iter(chunks), rest)
        sources.append(f"{len(mo_files)} gettext catalogues under {LOCALE_DIR}")
    return Corpus(
        "multilingual", split_docs(head + body, doc_bytes), " + ".join(sources) or "(none found)"
    )


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
