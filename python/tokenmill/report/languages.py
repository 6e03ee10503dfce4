"""Language metadata for the report: English names and the optional context columns.

Reads ``tokenmill/data/languages.json`` (per FLORES code: ``name``, ``native_name``, ``script``,
``speakers_millions`` with its source, ``common_crawl_pct`` (CC-MAIN-2022-40, the crawl whose shares
Lai et al. 2023 report) or ``null``; top-level ``world_population_millions``, ``sources`` and
``limits``). The population share is speakers / world population, in percent; speakers of several
languages count once per language, so shares do not add up to 100%. Unknown codes get no metadata
and are shown as given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from tokenmill._data import read_text

__all__ = ["LanguageInfo", "language_info", "language_limits"]


@dataclass(frozen=True)
class LanguageInfo:
    code: str
    name: str
    native_name: str | None = None
    script: str | None = None
    common_crawl_pct: float | None = None  # share of Common Crawl text, percent (Lai et al. 2023)
    population_pct: float | None = None  # speakers as a percent of the world population

    @property
    def crawl_to_population(self) -> float | None:
        if self.common_crawl_pct is None or not self.population_pct:
            return None
        return self.common_crawl_pct / self.population_pct


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):  # {"value": ..., "source": ...}
        for key in ("value", "count", "total", "percent", "pct"):
            if key in value:
                return _number(value[key])
    return None


def _first(entry: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        if key in entry:
            got = _number(entry[key])
            if got is not None:
                return got
    return None


def _read() -> dict[str, Any]:
    try:
        doc = json.loads(read_text("languages.json"))
    except FileNotFoundError:
        return {}
    return doc if isinstance(doc, dict) else {}


@lru_cache(maxsize=1)
def language_info() -> Mapping[str, LanguageInfo]:
    """Code -> :class:`LanguageInfo` for every language the package data describes."""
    doc = _read()
    langs = doc.get("languages", doc)
    world = _first(doc, "world_population_millions", "world_population")
    out: dict[str, LanguageInfo] = {}
    if not isinstance(langs, Mapping):
        return MappingProxyType(out)
    for code, entry in langs.items():
        if not isinstance(entry, Mapping) or "name" not in entry:
            continue
        pop_pct = _first(entry, "population_share_pct", "population_pct", "speakers_pct")
        if pop_pct is None and world:
            # both in the same unit (millions in the package data)
            speakers = _first(entry, "speakers_millions", "speakers", "population")
            if speakers is not None:
                pop_pct = 100.0 * speakers / world
        out[code] = LanguageInfo(
            code=code,
            name=str(entry["name"]),
            native_name=entry.get("native_name"),
            script=entry.get("script"),
            common_crawl_pct=_first(
                entry, "common_crawl_pct", "cc_share_pct", "common_crawl_share_pct"
            ),
            population_pct=pop_pct,
        )
    return MappingProxyType(out)


def language_limits() -> str | None:
    """The data file's note on what its numbers can and cannot say (``None`` if absent)."""
    limits = _read().get("limits")
    if isinstance(limits, str):
        return limits
    if isinstance(limits, list):
        return " ".join(str(x) for x in limits)
    return None
