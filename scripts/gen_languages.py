"""Regenerate ``python/tokenmill/data/languages.json`` from its sourced tables.

Inputs (cited in ``python/tokenmill/data/README.md``):

* ``scripts/data/flores200_languages.tsv``: the 204 FLORES-200 codes and their English names;
* the ISO 639-3 and ISO 15924 code tables as packaged by ``pycountry`` (Debian ``iso-codes``);
* the MASSIVE locale -> FLORES-200 table, ``MASSIVE_TO_FLORES`` in ``tokenmill/report/corpus.py``;
* ``scripts/data/glottolog_families.tsv``: the Glottolog 5.1 family of each FLORES-200 ISO 639-3
  code, extracted from glottolog-cldf's ``cldf/languages.csv`` by ``--glottolog PATH``;
* the entries already in ``languages.json``: their names, native names, speaker counts and
  Common Crawl shares are kept as they are (they carry their own sources).

Run from the repository root: ``python scripts/gen_languages.py [--glottolog languages.csv]``
(needs ``pip install pycountry``;
a development tool only: the package reads the JSON and never imports pycountry). The output is
deterministic: running it twice gives the same file.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "python" / "tokenmill" / "data" / "languages.json"
FLORES = ROOT / "scripts" / "data" / "flores200_languages.tsv"
FAMILIES = ROOT / "scripts" / "data" / "glottolog_families.tsv"

# Macrolanguage codes that Glottolog does not list: the individual language (an ISO 639-3 member
# of the macrolanguage) whose Glottolog family is taken. Every member of these macrolanguages
# belongs to the same family, so the choice does not change the family.
MACRO_MEMBERS = {"est": "ekk", "grn": "gug", "kon": "kng", "srd": "sro", "zho": "cmn"}

# Scripts whose writing does not separate words with spaces: the Unicode line-breaking classes
# SA (South East Asian: Thai, Lao, Khmer, Myanmar) and ID (Han ideographs, kana) of UAX #14,
# plus Tibetan, which separates syllables with the tsheg (U+0F0B) rather than words with spaces.
NO_WORD_SPACES = frozenset({"Hans", "Hant", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})

# Short English script names where the ISO 15924 name carries a parenthetical alias.
SCRIPT_NAMES_KEEP_PAREN = {"Hans": "Han (Simplified)", "Hant": "Han (Traditional)"}

# FLORES-200 codes that the current ISO 639-3 tables no longer list: code -> (the reference name the
# code had, a note). pycountry ships only active codes.
RETIRED_639_3 = {
    "ajp": (
        "South Levantine Arabic",
        "ISO 639-3 retired ajp in 2023, merging it into apc (Levantine Arabic); "
        "FLORES-200 keeps ajp_Arab.",
    ),
}

SOURCES = {
    "flores200": (
        "NLLB Team, Marta R. Costa-jussà et al. 2022. No Language Left Behind: Scaling "
        "Human-Centered Machine Translation. arXiv:2207.04672. The FLORES-200 language list "
        "(code and English name) from flores200/README.md in the facebookresearch/flores "
        "repository (commit a6c830c, 2023-11-20)."
    ),
    "iso639_3": (
        "ISO 639-3 code tables (SIL International, registration authority), as packaged by "
        "pycountry 26.2.16 from Debian's iso-codes: iso639_3_name is the reference name, "
        "iso639_1 the two-letter code where the standard gives one for this exact code."
    ),
    "iso15924": (
        "ISO 15924 code list (Unicode Consortium, registration authority), as packaged by "
        "pycountry 26.2.16 from Debian's iso-codes; script_name drops the alias in parentheses."
    ),
    "massive": (
        "Jack FitzGerald et al. 2023. MASSIVE: A 1M-Example Multilingual Natural Language "
        "Understanding Dataset with 51 Typologically-Diverse Languages. ACL 2023. "
        "arXiv:2204.08582. Locales of MASSIVE 1.1 (52 with ca-ES), mapped to the FLORES-200 "
        "code of the same language and script."
    ),
    "glottolog": (
        "Harald Hammarström, Robert Forkel, Martin Haspelmath, Sebastian Bank. 2024. Glottolog "
        "5.1. Leipzig: Max Planck Institute for Evolutionary Anthropology. CC BY 4.0. Data from "
        "glottolog-cldf v5.1, cldf/languages.csv: the top-level family of the language with this "
        "ISO 639-3 code ('isolate' for isolates; for the macrolanguages est, grn, kon, srd, zho "
        "the family of a member language: ekk, gug, kng, sro, cmn)."
    ),
    "uax14": (
        "Unicode Standard Annex #14, Unicode Line Breaking Algorithm: scripts of line-break class "
        "SA (Thai, Lao, Khmer, Myanmar) and ID (Han, kana) do not separate words with spaces; "
        "Tibetan separates syllables with the tsheg. word_spaces is false for those scripts."
    ),
}


def _massive_to_flores() -> dict[str, str]:
    """The loader's table, read from corpus.py alone (no compiled extension needed)."""
    path = ROOT / "python" / "tokenmill" / "report" / "corpus.py"
    spec = importlib.util.spec_from_file_location("_tm_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return dict(module.MASSIVE_TO_FLORES)


def _pycountry() -> Any:
    try:
        import pycountry
    except ImportError:
        sys.exit("scripts/gen_languages.py needs pycountry: pip install pycountry")
    return pycountry


def script_name(pc: Any, code: str, existing: dict[str, str]) -> str:
    if code in existing:
        return existing[code]
    if code in SCRIPT_NAMES_KEEP_PAREN:
        return SCRIPT_NAMES_KEEP_PAREN[code]
    entry = pc.scripts.get(alpha_4=code)
    if entry is None:
        raise SystemExit(f"{code}: not an ISO 15924 script code")
    return str(entry.name).split(" (")[0]


def extract_families(languages_csv: Path, isos: set[str]) -> None:
    """Write ``FAMILIES`` from glottolog-cldf's ``cldf/languages.csv`` for the codes ``isos``."""
    with languages_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_id = {r["ID"]: r for r in rows}
    by_iso = {r["ISO639P3code"]: r for r in rows if r["ISO639P3code"]}
    with FAMILIES.open("w", encoding="utf-8", newline="") as out:
        out.write("iso639_3\tglottocode\tglottolog_name\tfamily\n")
        for iso in sorted(isos):
            row = by_iso.get(MACRO_MEMBERS.get(iso, iso))
            if row is None:
                raise SystemExit(f"{iso}: not in {languages_csv}")
            if row["Family_ID"]:
                family = by_id[row["Family_ID"]]["Name"]
            elif row["Is_Isolate"].lower() == "true":
                family = "isolate"
            else:
                raise SystemExit(f"{iso}: Glottolog gives neither a family nor isolate")
            out.write(f"{iso}\t{row['Glottocode']}\t{row['Name']}\t{family}\n")


def _families() -> dict[str, str]:
    with FAMILIES.open(encoding="utf-8", newline="") as fh:
        return {row["iso639_3"]: row["family"] for row in csv.DictReader(fh, delimiter="\t")}


def build(doc: dict[str, Any]) -> dict[str, Any]:
    pc = _pycountry()
    old: dict[str, dict[str, Any]] = doc["languages"]
    with FLORES.open(encoding="utf-8", newline="") as fh:
        flores = {row["code"]: row["name"] for row in csv.DictReader(fh, delimiter="\t")}
    locale_of = {code: locale for locale, code in _massive_to_flores().items()}
    missing = sorted(set(locale_of) - set(flores))
    if missing:
        raise SystemExit(f"MASSIVE locales map to codes outside FLORES-200: {missing}")
    known_scripts = {e["script"]: e["script_name"] for e in old.values() if "script_name" in e}
    families = _families()

    out: dict[str, dict[str, Any]] = {}
    for code in sorted(flores):
        lang, script = code.split("_")
        iso = pc.languages.get(alpha_3=lang)
        if iso is None and lang not in RETIRED_639_3:
            raise SystemExit(f"{code}: {lang!r} is not an ISO 639-3 code")
        iso_name = RETIRED_639_3[lang][0] if iso is None else str(iso.name)
        entry: dict[str, Any] = {
            "name": flores[code],
            "iso639_3": lang,
            "iso639_3_name": iso_name,
            "iso639_1": getattr(iso, "alpha_2", None),
            "script": script,
            "script_name": script_name(pc, script, known_scripts),
            "word_spaces": script not in NO_WORD_SPACES,
            "family": families[lang],
            "flores200_name": flores[code],
            "massive_locale": locale_of.get(code),
        }
        if iso is None:
            entry["note"] = RETIRED_639_3[lang][1]
        if code in old:  # keep the curated fields (names, context figures) as they are
            entry = {**entry, **old[code]}
            entry["flores200_name"] = flores[code]
            entry["massive_locale"] = locale_of.get(code)
            entry["iso639_3_name"] = iso_name
            entry["word_spaces"] = script not in NO_WORD_SPACES
            entry["family"] = families[lang]
        out[code] = entry
    extra = sorted(set(old) - set(out))
    for code in extra:  # a curated language outside FLORES-200 stays
        out[code] = old[code]

    new = dict(doc)
    new["schema"] = "tokenmill languages v2"
    new["description"] = (
        "Metadata for every FLORES-200 language (and, through massive_locale, every MASSIVE "
        "locale): English name, ISO 639-3 code and reference name, ISO 15924 script, whether the "
        "script separates words with spaces; for the languages of the built-in corpus also "
        "native names, approximate speaker counts and the share of Common Crawl pages. "
        "Generated by scripts/gen_languages.py; not measurements made by tokenmill."
    )
    fields = dict(doc.get("fields", {}))
    fields.update(
        {
            "name": "English name: the curated name for the built-in corpus's languages, else "
            "the FLORES-200 list's name (source flores200).",
            "flores200_name": "The name the FLORES-200 list gives (source flores200).",
            "iso639_3": "ISO 639-3 code (the FLORES code's first part; source iso639_3).",
            "iso639_3_name": "ISO 639-3 reference name (source iso639_3).",
            "iso639_1": "ISO 639-1 code of this exact ISO 639-3 code, or null (source iso639_3).",
            "script": "ISO 15924 code (the FLORES code's second part; source iso15924).",
            "script_name": "English name of the script (source iso15924).",
            "word_spaces": "true when the script separates words with spaces (source uax14); "
            "fertility (tokens per whitespace-delimited word) is reported only for these.",
            "massive_locale": "The MASSIVE 1.1 locale of this language, or null (source massive).",
            "family": "Top-level language family in Glottolog 5.1, or 'isolate' (source "
            "glottolog); Glottolog's pseudo-families (e.g. 'Artificial Language') as given.",
            "scripts": "Top level: every ISO 15924 code -> its English name and word_spaces "
            "(null for the scripts FLORES-200 does not use: not assessed).",
        }
    )
    new["fields"] = fields
    sources = dict(doc.get("sources", {}))
    sources.update(SOURCES)
    new["sources"] = sources
    new["languages"] = out
    scripts: dict[str, dict[str, Any]] = {}
    used = {e["script"] for e in out.values()}
    for sc in sorted(pc.scripts, key=lambda x: x.alpha_4):
        code = str(sc.alpha_4)
        scripts[code] = {
            "name": script_name(pc, code, known_scripts),
            # only for the scripts FLORES-200 uses: elsewhere the table does not say
            "word_spaces": (code not in NO_WORD_SPACES) if code in used else None,
        }
    new["scripts"] = scripts
    return new


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--glottolog":
        with FLORES.open(encoding="utf-8", newline="") as fh:
            isos = {row["code"].split("_")[0] for row in csv.DictReader(fh, delimiter="\t")}
        extract_families(Path(sys.argv[2]), isos)
        print(f"wrote {FAMILIES.relative_to(ROOT)}")
    elif len(sys.argv) != 1:
        sys.exit("usage: python scripts/gen_languages.py [--glottolog cldf/languages.csv]")
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    new = build(doc)
    DATA.write_text(json.dumps(new, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    n = len(new["languages"])
    print(f"wrote {DATA.relative_to(ROOT)}: {n} languages")


if __name__ == "__main__":
    main()
