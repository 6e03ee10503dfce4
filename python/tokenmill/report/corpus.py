"""Parallel-corpus loaders for ``tokenmill report``.

Design notes
------------
A parallel corpus is a set of ``(lang, id, text)`` rows; rows that share an id are translations of
one another. Every loader produces the same frozen :class:`Corpus`: per language, a tuple of ids and
a tuple of texts in file order. Loading is one pass over the input, O(total bytes); nothing is
tokenized here.

Accepted layouts (detected from the path, see :func:`load_corpus`):

* the built-in sample (``path=None``): ``tokenmill/data/parallel_corpus.jsonl``;
* MASSIVE: a directory of ``<locale>.jsonl`` files (optionally under ``data/``), or one such file,
  with fields ``id``, ``locale``, ``partition`` and ``utt``; ``split`` picks the partition. Locales
  with a known FLORES-200 counterpart (``hi-IN`` -> ``hin_Deva``) are keyed by that code, and
  :attr:`Corpus.codes` keeps the locale so the report can show both; others are kept as given;
* FLORES-200: a directory holding ``dev/`` and/or ``devtest/`` with ``<lang>_<Script>.<split>``
  files (or such a split directory itself), line-aligned; the id is the 1-based line number;
* generic: a ``.jsonl``, ``.csv``, ``.tsv`` or ``.parquet`` file with ``lang``, ``id`` and ``text``
  columns (Parquet needs pyarrow: ``pip install 'tokenmill[report]'``).

Invariants: within one language an id occurs at most once (a duplicate is a ``ValueError`` naming
the file and line); language codes are never validated, so unknown codes are kept as given; empty
texts are kept (the statistics count and report them).
"""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

import numpy as np

from tokenmill._data import read_text

__all__ = [
    "ACCEPTED_LAYOUTS",
    "MASSIVE_TO_FLORES",
    "Corpus",
    "LanguageTexts",
    "load_corpus",
]

ACCEPTED_LAYOUTS = (
    "built-in sample (no --corpus)",
    "MASSIVE: a directory of <locale>.jsonl files or one such .jsonl file "
    "(fields id, locale, partition, utt)",
    "FLORES-200: a directory with dev/ and/or devtest/ holding <lang>_<Script>.<split> files",
    "generic: a .jsonl, .csv, .tsv or .parquet file with lang, id and text columns",
)

# MASSIVE 1.1 locales -> FLORES-200 codes (the language and script both datasets use for them).
MASSIVE_TO_FLORES: Mapping[str, str] = MappingProxyType(
    {
        "af-ZA": "afr_Latn",
        "am-ET": "amh_Ethi",
        "ar-SA": "arb_Arab",
        "az-AZ": "azj_Latn",
        "bn-BD": "ben_Beng",
        "ca-ES": "cat_Latn",
        "cy-GB": "cym_Latn",
        "da-DK": "dan_Latn",
        "de-DE": "deu_Latn",
        "el-GR": "ell_Grek",
        "en-US": "eng_Latn",
        "es-ES": "spa_Latn",
        "fa-IR": "pes_Arab",
        "fi-FI": "fin_Latn",
        "fr-FR": "fra_Latn",
        "he-IL": "heb_Hebr",
        "hi-IN": "hin_Deva",
        "hu-HU": "hun_Latn",
        "hy-AM": "hye_Armn",
        "id-ID": "ind_Latn",
        "is-IS": "isl_Latn",
        "it-IT": "ita_Latn",
        "ja-JP": "jpn_Jpan",
        "jv-ID": "jav_Latn",
        "ka-GE": "kat_Geor",
        "km-KH": "khm_Khmr",
        "kn-IN": "kan_Knda",
        "ko-KR": "kor_Hang",
        "lv-LV": "lvs_Latn",
        "ml-IN": "mal_Mlym",
        "mn-MN": "khk_Cyrl",
        "ms-MY": "zsm_Latn",
        "my-MM": "mya_Mymr",
        "nb-NO": "nob_Latn",
        "nl-NL": "nld_Latn",
        "pl-PL": "pol_Latn",
        "pt-PT": "por_Latn",
        "ro-RO": "ron_Latn",
        "ru-RU": "rus_Cyrl",
        "sl-SL": "slv_Latn",
        "sq-AL": "als_Latn",
        "sv-SE": "swe_Latn",
        "sw-KE": "swh_Latn",
        "ta-IN": "tam_Taml",
        "te-IN": "tel_Telu",
        "th-TH": "tha_Thai",
        "tl-PH": "tgl_Latn",
        "tr-TR": "tur_Latn",
        "ur-PK": "urd_Arab",
        "vi-VN": "vie_Latn",
        "zh-CN": "zho_Hans",
        "zh-TW": "zho_Hant",
    }
)

_GENERIC_COLUMNS = ("lang", "id", "text")
_FLORES_SPLITS = ("dev", "devtest")


@dataclass(frozen=True)
class LanguageTexts:
    """One language's sentences: ``ids[i]`` is the id of ``texts[i]``."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Corpus:
    """A parallel corpus: language code -> its sentences. Rows sharing an id are translations."""

    languages: Mapping[str, LanguageTexts]
    name: str
    layout: str
    is_sample: bool = False
    source: str = ""
    notes: tuple[str, ...] = field(default=())
    # language (as normalised, e.g. hin_Deva) -> the code the corpus itself uses (MASSIVE's
    # hi-IN); languages not listed use the same code in both
    codes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def corpus_code(self, language: str) -> str:
        """The code the corpus files use for ``language`` (a MASSIVE locale, or the same code)."""
        return self.codes.get(language, language)

    @property
    def n_sentences(self) -> int:
        return sum(len(t) for t in self.languages.values())

    @property
    def n_ids(self) -> int:
        ids: set[str] = set()
        for t in self.languages.values():
            ids.update(t.ids)
        return len(ids)

    def select(self, languages: Iterable[str]) -> Corpus:
        """Keep only ``languages`` (in the given order); unknown codes raise a ``ValueError``."""
        wanted = list(dict.fromkeys(languages))
        missing = [lang for lang in wanted if lang not in self.languages]
        if missing:
            have = ", ".join(sorted(self.languages))
            raise ValueError(
                f"language(s) {', '.join(missing)} not in corpus {self.name!r} (it has: {have})"
            )
        return Corpus(
            languages=MappingProxyType({lang: self.languages[lang] for lang in wanted}),
            name=self.name,
            layout=self.layout,
            is_sample=self.is_sample,
            source=self.source,
            notes=self.notes,
            codes=MappingProxyType({k: v for k, v in self.codes.items() if k in wanted}),
        )

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, str]],
        *,
        name: str = "corpus",
        layout: str = "rows",
        is_sample: bool = False,
        source: str = "",
    ) -> Corpus:
        """Build a corpus from ``(lang, id, text)`` triples; a duplicate id in a language raises."""
        builder = _Builder(name, "row")
        for n, (lang, id_, text) in enumerate(rows, 1):
            builder.add(lang, id_, text, n)
        return builder.build(layout=layout, is_sample=is_sample, source=source)


class _Builder:
    """Collects rows column by column, then groups them by language once, at :meth:`build`
    (a stable argsort over integer language codes: O(n log n) in C instead of n dict appends).
    Duplicate ids are detected per language from a set; stored line numbers name the row."""

    def __init__(self, where: str, unit: str = "line") -> None:
        self.where = where
        self.unit = unit
        self.langs: list[str] = []
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.lines: list[int] = []

    def add(self, lang: str, id_: str, text: str, line: int) -> None:
        if type(text) is not str:
            self._bad_text(text, line)
        self.langs.append(lang)
        self.ids.append(id_)
        self.texts.append(text)
        self.lines.append(line)

    def add_columns(
        self, langs: list[str], ids: list[str], texts: list[str], lines: Sequence[int]
    ) -> None:
        if not all(type(t) is str for t in texts):
            for t, n in zip(texts, lines, strict=True):
                if type(t) is not str:
                    self._bad_text(t, n)
        self.langs.extend(langs)
        self.ids.extend(ids)
        self.texts.extend(texts)
        self.lines.extend(lines)

    def _bad_text(self, text: object, line: int) -> None:
        raise ValueError(
            f"{self.where}, {self.unit} {line}: text must be a string, got {type(text).__name__}"
        )

    def __len__(self) -> int:
        return len(self.langs)

    def build(
        self,
        *,
        layout: str,
        is_sample: bool = False,
        source: str = "",
        corpus_codes: Mapping[str, str] | None = None,
    ) -> Corpus:
        if not self.langs:
            raise ValueError(f"{self.where}: the corpus is empty (no sentences found)")
        index: dict[str, int] = {}
        codes = np.fromiter(
            (index.setdefault(lang, len(index)) for lang in self.langs),
            dtype=np.int64,
            count=len(self.langs),
        )
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(index) + 1)).tolist()
        ids = np.array(self.ids, dtype=object)[order]
        texts = np.array(self.texts, dtype=object)[order]
        langs: dict[str, LanguageTexts] = {}
        for lang, k in index.items():
            lo, hi = bounds[k], bounds[k + 1]
            lang_ids = tuple(ids[lo:hi].tolist())
            if len(set(lang_ids)) != len(lang_ids):
                self._raise_duplicate(lang, lang_ids, order[lo:hi].tolist())
            langs[lang] = LanguageTexts(lang_ids, tuple(texts[lo:hi].tolist()))
        return Corpus(
            languages=MappingProxyType(langs),
            name=self.where,
            layout=layout,
            is_sample=is_sample,
            source=source,
            codes=MappingProxyType(
                {k: v for k, v in (corpus_codes or {}).items() if k in langs and k != v}
            ),
        )

    def _raise_duplicate(self, lang: str, ids: tuple[str, ...], rows: list[int]) -> None:
        seen: set[str] = set()
        for id_, row in zip(ids, rows, strict=True):
            if id_ in seen:
                raise ValueError(
                    f"{self.where}, {self.unit} {self.lines[row]}: duplicate id {id_!r} "
                    f"for language {lang!r}"
                )
            seen.add(id_)


def _unrecognised(path: Path, why: str) -> ValueError:
    layouts = "\n  - ".join(ACCEPTED_LAYOUTS)
    return ValueError(
        f"unrecognised corpus layout at {path}: {why}. Accepted layouts:\n  - {layouts}"
    )


def load_corpus(path: str | Path | None = None, *, split: str | None = None) -> Corpus:
    """Load a parallel corpus, detecting its layout (see the module notes).

    ``split`` picks the MASSIVE partition (``train``/``dev``/``test``) or the FLORES split
    (``dev``/``devtest``); ``None`` means ``dev`` for both. Generic files and the built-in sample
    have no splits and ignore it.
    """
    if path is None:
        return load_builtin()
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"corpus not found: {p}")
    try:
        return _load_path(p, split)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not valid UTF-8 ({exc.reason}); corpora must be UTF-8") from None


def _load_path(p: Path, split: str | None) -> Corpus:
    if p.is_dir():
        return _load_dir(p, split)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        first = _first_json_record(p)
        if first is None:
            raise ValueError(f"{p}: the corpus is empty (no JSON lines)")
        if "utt" in first and "locale" in first:
            return load_massive(p, split=split)
        if all(c in first for c in _GENERIC_COLUMNS):
            return load_generic(p)
        raise _unrecognised(
            p, f"first record has fields {sorted(first)}; expected lang/id/text or MASSIVE fields"
        )
    if suffix in (".csv", ".tsv", ".parquet"):
        return load_generic(p)
    if suffix in (f".{s}" for s in _FLORES_SPLITS):
        raise _unrecognised(
            p, "a single FLORES file; pass the directory that holds dev/ or devtest/"
        )
    raise _unrecognised(p, f"unknown file type {suffix or '(no extension)'!r}")


def _load_dir(p: Path, split: str | None) -> Corpus:
    if any((p / s).is_dir() for s in _FLORES_SPLITS) or any(
        f.suffix in (".dev", ".devtest") for f in p.iterdir()
    ):
        return load_flores(p, split=split)
    for candidate in (p, p / "data"):
        if candidate.is_dir() and any(candidate.glob("*.jsonl")):
            return load_massive(candidate, split=split)
    raise _unrecognised(p, "directory holds neither dev/ or devtest/ nor *.jsonl files")


def load_builtin() -> Corpus:
    """The built-in sample: everyday sentences translated into 30+ languages (package data)."""
    try:
        text = read_text("parallel_corpus.jsonl", encoding="utf-8-sig")
    except FileNotFoundError as exc:  # pragma: no cover - a broken installation
        raise FileNotFoundError("the built-in corpus is missing from this installation") from exc
    builder = _Builder("built-in sample")
    for n, rec in _json_lines(text.splitlines(), "built-in corpus"):
        builder.add(str(rec["lang"]), str(rec["id"]), rec["text"], n)
    return builder.build(
        layout="builtin", is_sample=True, source="tokenmill/data/parallel_corpus.jsonl"
    )


def _parse_line(line: str, where: str, n: int) -> dict[str, Any]:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}, line {n}: invalid JSON ({exc.msg})") from None
    if not isinstance(rec, dict):
        raise ValueError(f"{where}, line {n}: expected a JSON object")
    return rec


def _json_lines(lines: Iterable[str], where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(lines, 1):
        if line.strip():
            yield n, _parse_line(line, where, n)


_JSON_BLOCK = 1 << 22  # bytes of lines read and parsed per step


def _json_chunks(fh: TextIO, where: str) -> Iterator[tuple[list[int], list[dict[str, Any]]]]:
    """Line numbers and records of a JSONL stream, a block of lines at a time.

    Each block is parsed as one JSON array (about twice as fast as a ``json.loads`` per line);
    a block that fails is parsed line by line, so that the error names its line."""
    start = 0
    while True:
        lines = fh.readlines(_JSON_BLOCK)
        if not lines:
            return
        numbers = list(range(start + 1, start + 1 + len(lines)))
        start += len(lines)
        try:
            recs = json.loads("[" + ",".join(lines) + "]")
        except json.JSONDecodeError:
            recs = None
        if recs is None or len(recs) != len(lines) or not all(type(r) is dict for r in recs):
            kept = [(n, ln) for n, ln in zip(numbers, lines, strict=True) if ln.strip()]
            numbers = [n for n, _ in kept]
            recs = [_parse_line(ln, where, n) for n, ln in kept]
        yield numbers, recs


def _json_lines_of(fh: TextIO, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for numbers, recs in _json_chunks(fh, where):
        yield from zip(numbers, recs, strict=True)


def _first_json_record(p: Path) -> dict[str, Any] | None:
    with p.open(encoding="utf-8-sig") as fh:
        for _, rec in _json_lines(fh, str(p)):
            return rec
    return None


def load_massive(path: str | Path, *, split: str | None = None) -> Corpus:
    """MASSIVE: one JSONL file or a directory of ``<locale>.jsonl``; keeps one partition."""
    p = Path(path)
    partition = split or "dev"
    files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    builder = _Builder(str(p))
    partitions: set[str] = set()
    codes: dict[str, str] = {}
    for f in files:
        with f.open(encoding="utf-8-sig") as fh:
            for n, rec in _json_lines_of(fh, str(f)):
                missing = [k for k in ("id", "locale", "partition", "utt") if k not in rec]
                if missing:
                    raise ValueError(f"{f}, line {n}: MASSIVE record lacks field(s) {missing}")
                part = str(rec["partition"])
                partitions.add(part)
                if part != partition:
                    continue
                locale = str(rec["locale"])
                lang = MASSIVE_TO_FLORES.get(locale, locale)
                if codes.setdefault(lang, locale) != locale:
                    raise ValueError(
                        f"{f}, line {n}: locales {codes[lang]!r} and {locale!r} are both {lang}"
                    )
                builder.add(lang, str(rec["id"]), rec["utt"], n)
    if not len(builder):
        have = ", ".join(sorted(partitions)) or "none"
        raise ValueError(
            f"{p}: no MASSIVE rows in partition {partition!r} (partitions found: {have})"
        )
    return builder.build(
        layout="massive", source=f"MASSIVE, partition {partition}", corpus_codes=codes
    )


def load_flores(path: str | Path, *, split: str | None = None) -> Corpus:
    """FLORES-200: ``<dir>/<split>/<lang>_<Script>.<split>``; the id is the 1-based line number."""
    p = Path(path)
    name = split or "dev"
    if (p / name).is_dir():
        folder = p / name
    elif any(f.suffix == f".{name}" for f in p.iterdir()):
        folder = p
    else:
        have = [s for s in _FLORES_SPLITS if (p / s).is_dir()]
        raise ValueError(
            f"{p}: FLORES split {name!r} not found (splits present: {', '.join(have) or 'none'})"
        )
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix == f".{name}")
    if not files:
        raise ValueError(f"{folder}: no *.{name} files")
    builder = _Builder(str(p))
    lengths: dict[str, int] = {}
    for f in files:
        lang = f.name[: -len(f.suffix)]
        lines = f.read_text(encoding="utf-8-sig").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lengths[lang] = len(lines)
        for n, line in enumerate(lines, 1):
            builder.add(lang, str(n), line.rstrip("\r"), n)
    corpus = builder.build(layout="flores", source=f"FLORES-200, split {name}")
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(lengths.items()))
        note = f"FLORES files have different line counts ({counts}); ids are line numbers"
        return replace(corpus, notes=(note,))
    return corpus


def load_generic(path: str | Path) -> Corpus:
    """A ``.jsonl``, ``.csv``, ``.tsv`` or ``.parquet`` file with ``lang``, ``id`` and ``text``."""
    p = Path(path)
    suffix = p.suffix.lower()
    builder = _Builder(str(p), "row" if suffix == ".parquet" else "line")
    if suffix in (".jsonl", ".json", ".ndjson"):
        with p.open(encoding="utf-8-sig") as fh:
            for numbers, recs in _json_chunks(fh, str(p)):
                try:
                    langs = [r["lang"] for r in recs]
                    ids = [r["id"] for r in recs]
                    texts = [r["text"] for r in recs]
                except KeyError:
                    for n, rec in zip(numbers, recs, strict=True):
                        missing = [c for c in _GENERIC_COLUMNS if c not in rec]
                        if missing:
                            raise ValueError(f"{p}, line {n}: missing field(s) {missing}") from None
                    raise
                builder.add_columns(
                    [x if type(x) is str else str(x) for x in langs],
                    [x if type(x) is str else str(x) for x in ids],
                    texts,
                    numbers,
                )
    elif suffix in (".csv", ".tsv"):
        with p.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            missing = [c for c in _GENERIC_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{p}: missing column(s) {missing} (header: {reader.fieldnames or []})"
                )
            for row in reader:
                if row["text"] is None:
                    raise ValueError(f"{p}, line {reader.line_num}: too few columns")
                builder.add(row["lang"], row["id"], row["text"], reader.line_num)
    elif suffix == ".parquet":
        for n, (lang, id_, text) in enumerate(_parquet_rows(p), 1):
            builder.add(lang, id_, text, n)
    else:
        raise _unrecognised(p, f"unknown file type {suffix!r}")
    return builder.build(layout="generic", source=p.name)


def _parquet_rows(p: Path) -> Iterator[tuple[str, str, str]]:
    try:
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ImportError(
            f"reading {p} needs pyarrow: pip install 'tokenmill[report]' (or pip install pyarrow)"
        ) from None
    table = pq.read_table(p)
    missing = [c for c in _GENERIC_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{p}: missing column(s) {missing} (columns: {table.column_names})")
    langs = table.column("lang").to_pylist()
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    for lang, id_, text in zip(langs, ids, texts, strict=True):
        yield str(lang), str(id_), "" if text is None else text
