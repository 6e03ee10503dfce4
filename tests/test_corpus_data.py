"""The built-in parallel corpus and its language metadata are complete, clean and consistent.

These tests read only the data files, so they run without the compiled extension: the data
directory comes from the installed package when `tokenmill` imports (which checks that the
files made it into the wheel), and from the source tree otherwise.

Each check is a small function returning a list of problems; the `test_check_*` tests feed
those functions deliberately broken data so that every check is shown to be able to fail.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from importlib.abc import Traversable

Row = dict[str, str]

# fmt: off
EXPECTED_LANGS = [
    "eng_Latn", "spa_Latn", "fra_Latn", "deu_Latn", "por_Latn", "rus_Cyrl", "ukr_Cyrl",
    "tur_Latn", "ell_Grek", "heb_Hebr", "arb_Arab", "pes_Arab", "urd_Arab", "hin_Deva",
    "ben_Beng", "mar_Deva", "pan_Guru", "tel_Telu", "tam_Taml", "zho_Hans", "jpn_Jpan",
    "kor_Hang", "vie_Latn", "tha_Thai", "khm_Khmr", "ind_Latn", "swh_Latn", "amh_Ethi",
    "mya_Mymr", "hye_Armn", "kat_Geor",
]
# fmt: on
MIN_SENTENCES = 40
PIVOT = "eng_Latn"

# Prefixes of `unicodedata.name` for the letters of each ISO 15924 script tag.
SCRIPT_PREFIXES: dict[str, tuple[str, ...]] = {
    "Latn": ("LATIN",),
    "Cyrl": ("CYRILLIC",),
    "Grek": ("GREEK",),
    "Hebr": ("HEBREW",),
    "Arab": ("ARABIC",),
    "Deva": ("DEVANAGARI",),
    "Beng": ("BENGALI",),
    "Guru": ("GURMUKHI",),
    "Telu": ("TELUGU",),
    "Taml": ("TAMIL",),
    "Hans": ("CJK UNIFIED IDEOGRAPH",),
    "Jpan": ("CJK UNIFIED IDEOGRAPH", "HIRAGANA", "KATAKANA"),
    "Hang": ("HANGUL",),
    "Thai": ("THAI",),
    "Khmr": ("KHMER",),
    "Ethi": ("ETHIOPIC",),
    "Mymr": ("MYANMAR",),
    "Armn": ("ARMENIAN",),
    "Geor": ("GEORGIAN",),
}
MIN_SCRIPT_SHARE = 0.6
# Traditional-only forms of very common characters; none may appear in Simplified Chinese.
TRADITIONAL_ONLY = set("們這個會說時國來還裡後過進對開關學車電話")


def _data_dir() -> Traversable:
    try:
        from importlib.resources import files

        packaged = files("tokenmill") / "data"
        if packaged.joinpath("parallel_corpus.jsonl").is_file():
            return packaged
    except ImportError:  # extension not built: fall back to the source tree
        pass
    return Path(__file__).resolve().parents[1] / "python" / "tokenmill" / "data"


DATA = _data_dir()


def _load_corpus() -> list[Row]:
    rows: list[Row] = []
    text = DATA.joinpath("parallel_corpus.jsonl").read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        assert line.strip(), f"blank line {number}"
        obj = json.loads(line)
        assert isinstance(obj, dict) and set(obj) == {"lang", "id", "text"}, f"line {number}"
        assert all(isinstance(obj[k], str) for k in obj), f"line {number}"
        rows.append(obj)
    return rows


def _load_languages() -> dict[str, Any]:
    doc = json.loads(DATA.joinpath("languages.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


CORPUS = _load_corpus()
LANGUAGES = _load_languages()


# ---------------------------------------------------------------------------------------------
# Checks: each returns a list of human-readable problems (empty when the data is fine).


def completeness_problems(rows: list[Row], langs: list[str], min_ids: int) -> list[str]:
    problems: list[str] = []
    counts = Counter((r["lang"], r["id"]) for r in rows)
    problems += [f"duplicate {key}" for key, n in counts.items() if n > 1]
    ids_by_lang: dict[str, set[str]] = {}
    for r in rows:
        ids_by_lang.setdefault(r["lang"], set()).add(r["id"])
    problems += [f"unexpected language {lang}" for lang in ids_by_lang if lang not in langs]
    all_ids = set().union(*ids_by_lang.values()) if ids_by_lang else set()
    if len(all_ids) < min_ids:
        problems.append(f"only {len(all_ids)} sentence ids, want at least {min_ids}")
    for lang in langs:
        missing = sorted(all_ids - ids_by_lang.get(lang, set()))
        if missing:
            problems.append(f"{lang} lacks {missing}")
    return problems


def text_problems(rows: list[Row]) -> list[str]:
    problems: list[str] = []
    for r in rows:
        where = f"{r['lang']}/{r['id']}"
        text = r["text"]
        if not text.strip():
            problems.append(f"{where}: empty text")
        elif text != text.strip() or "  " in text or any(c in text for c in "\t\r\n"):
            problems.append(f"{where}: stray whitespace")
        if unicodedata.normalize("NFC", text) != text:
            problems.append(f"{where}: not NFC")
        if any(unicodedata.category(c) in ("Cc", "Co", "Cs") or c == "\ufffd" for c in text):
            problems.append(f"{where}: control, private-use or replacement character")
    return problems


def script_share(text: str, script: str) -> float:
    prefixes = SCRIPT_PREFIXES[script]
    letters = [c for c in text if unicodedata.category(c).startswith("L")]
    if not letters:
        return 0.0
    hits = sum(unicodedata.name(c, "").startswith(prefixes) for c in letters)
    return hits / len(letters)


def script_problems(rows: list[Row]) -> list[str]:
    problems: list[str] = []
    for r in rows:
        script = r["lang"].split("_")[1]
        share = script_share(r["text"], script)
        if share < MIN_SCRIPT_SHARE:
            problems.append(f"{r['lang']}/{r['id']}: only {share:.0%} of letters are {script}")
    return problems


def _only_digits(text: str) -> bool:
    return not any(unicodedata.category(c).startswith("L") for c in text)


def duplicate_translation_problems(rows: list[Row]) -> list[str]:
    seen: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for r in rows:
        key = (r["id"], r["text"])
        if key in seen and not _only_digits(r["text"]):
            problems.append(f"{r['id']}: {r['lang']} text is identical to {seen[key]}")
        seen.setdefault(key, r["lang"])
    return problems


# ---------------------------------------------------------------------------------------------
# The shipped data passes every check.


def test_corpus_is_complete() -> None:
    assert completeness_problems(CORPUS, EXPECTED_LANGS, MIN_SENTENCES) == []
    assert len(CORPUS) == len(EXPECTED_LANGS) * len({r["id"] for r in CORPUS})


def test_corpus_ids_are_sequential() -> None:
    ids = sorted({r["id"] for r in CORPUS})
    assert ids == [f"s{i:02d}" for i in range(1, len(ids) + 1)]


def test_corpus_text_is_clean_nfc() -> None:
    assert text_problems(CORPUS) == []


def test_corpus_text_is_in_expected_script() -> None:
    assert script_problems(CORPUS) == []


def test_no_two_languages_share_a_translation() -> None:
    assert duplicate_translation_problems(CORPUS) == []


def test_english_is_ascii() -> None:
    english = [r for r in CORPUS if r["lang"] == PIVOT]
    assert english
    for r in english:
        assert r["text"].isascii(), r["id"]


def test_japanese_uses_kana_and_chinese_is_simplified() -> None:
    for r in CORPUS:
        if r["lang"] == "jpn_Jpan" and len(r["text"]) > 8:
            names = [unicodedata.name(c, "") for c in r["text"]]
            assert any(n.startswith(("HIRAGANA", "KATAKANA")) for n in names), r["id"]
        if r["lang"] == "zho_Hans":
            assert not TRADITIONAL_ONLY & set(r["text"]), r["id"]


def test_sentence_lengths_vary() -> None:
    words = sorted(len(r["text"].split()) for r in CORPUS if r["lang"] == PIVOT)
    assert words[0] <= 6, "want some short sentences"
    assert words[-1] >= 35, "want some long sentences"


def test_translations_are_not_truncated() -> None:
    """Per language, each sentence's length relative to English stays near that language's
    typical ratio; a dropped clause or a pasted fragment moves it far away."""
    english = {r["id"]: len(r["text"]) for r in CORPUS if r["lang"] == PIVOT}
    for lang in EXPECTED_LANGS:
        ratios = {r["id"]: len(r["text"]) / english[r["id"]] for r in CORPUS if r["lang"] == lang}
        typical = sorted(ratios.values())[len(ratios) // 2]
        for sid, ratio in ratios.items():
            assert 0.4 < ratio / typical < 2.5, (lang, sid, round(ratio / typical, 2))


# ---------------------------------------------------------------------------------------------
# languages.json


FLORES_LIST = Path(__file__).resolve().parents[1] / "scripts" / "data" / "flores200_languages.tsv"
FAMILY_LIST = FLORES_LIST.with_name("glottolog_families.tsv")


def _flores200() -> dict[str, str]:
    """The published FLORES-200 list (code -> English name), as the generator reads it."""
    lines = FLORES_LIST.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "code\tname"
    return dict(line.split("\t") for line in lines[1:])


CURATED = {code: e for code, e in LANGUAGES["languages"].items() if "native_name" in e}


def test_languages_cover_flores200_and_the_corpus() -> None:
    langs = LANGUAGES["languages"]
    flores = _flores200()
    assert len(flores) == 204
    assert set(langs) == set(flores)
    assert set(CURATED) == set(EXPECTED_LANGS) == {r["lang"] for r in CORPUS}


def test_languages_fields_are_consistent() -> None:
    scripts = LANGUAGES["scripts"]
    flores = _flores200()
    families = dict(
        line.split("\t")[::3] for line in FAMILY_LIST.read_text(encoding="utf-8").splitlines()[1:]
    )
    for code, info in LANGUAGES["languages"].items():
        lang, script = code.split("_")
        assert info["script"] == script, code
        assert info["iso639_3"] == lang, code
        assert isinstance(info["name"], str) and info["name"], code
        assert info["flores200_name"] == flores[code], code
        assert info["script_name"] == scripts[script]["name"], code
        assert info["word_spaces"] is scripts[script]["word_spaces"], code
        assert info["iso639_1"] is None or len(info["iso639_1"]) == 2, code
        assert info["family"] == families[lang], code
    sources = LANGUAGES["sources"]
    for code, info in CURATED.items():
        assert isinstance(info["native_name"], str) and info["native_name"], code
        assert info["script"] in SCRIPT_PREFIXES, code
        assert len(info["iso639_1"]) == 2, code
        for number, source in (
            ("speakers_millions", "speakers_source"),
            ("common_crawl_pct", "common_crawl_source"),
        ):
            value = info[number]
            if value is not None:
                assert isinstance(value, (int, float)) and value > 0, (code, number)
                assert info[source] in sources, (code, source)
        if info["common_crawl_pct"] is not None:
            assert info["common_crawl_pct"] < 100, code
        assert info["speakers_confidence"] in ("medium", "low"), code
    assert LANGUAGES["world_population_source"] in sources


def test_codes_and_script_names_match_the_iso_tables() -> None:
    """ISO 639-3 and ISO 15924 as pycountry ships them (Debian iso-codes), an independent copy."""
    pycountry = pytest.importorskip("pycountry")
    for code, info in LANGUAGES["languages"].items():
        iso = pycountry.languages.get(alpha_3=info["iso639_3"])
        if iso is None:  # retired since FLORES-200 was published: the entry says so
            assert "retired" in info["note"], code
            continue
        assert info["iso639_3_name"] == iso.name, code
    for script, entry in LANGUAGES["scripts"].items():
        ref = pycountry.scripts.get(alpha_4=script)
        assert ref is not None, script
        assert ref.name.startswith(entry["name"].split(" (")[0]), script
    assert len(LANGUAGES["scripts"]) == len(list(pycountry.scripts))


def test_word_spaces_agree_with_the_corpus_text() -> None:
    """Languages marked as writing spaces between words do so in the built-in sentences; the
    others (Han, kana, Thai, Khmer, Myanmar) write at most a space per 8 letters."""
    langs = LANGUAGES["languages"]
    by_lang: dict[str, list[str]] = {}
    for r in CORPUS:
        by_lang.setdefault(r["lang"], []).append(r["text"])
    for lang, texts in by_lang.items():
        text = " ".join(texts)
        letters = sum(unicodedata.category(c).startswith(("L", "M")) for c in text)
        spaces = text.count(" ") - (len(texts) - 1)
        if langs[lang]["word_spaces"]:
            assert spaces * 12 > letters, lang
        else:
            assert spaces * 8 < letters, lang
    assert {c for c, e in langs.items() if not e["word_spaces"] and c in by_lang} == {
        "zho_Hans",
        "jpn_Jpan",
        "tha_Thai",
        "khm_Khmr",
        "mya_Mymr",
    }


def test_families_follow_glottolog() -> None:
    """Spot checks against Glottolog's classification, and the shape of the whole table."""
    langs = LANGUAGES["languages"]
    expected = {
        "eus_Latn": "isolate",
        "hin_Deva": "Indo-European",
        "jpn_Jpan": "Japonic",
        "kor_Hang": "Koreanic",
        "fin_Latn": "Uralic",
        "est_Latn": "Uralic",  # macrolanguage est: its member ekk
        "zho_Hans": "Sino-Tibetan",
        "yue_Hant": "Sino-Tibetan",
        "swh_Latn": "Atlantic-Congo",
        "tam_Taml": "Dravidian",
        "tgl_Latn": "Austronesian",
        "amh_Ethi": "Afro-Asiatic",
        "grn_Latn": "Tupian",
        "epo_Latn": "Artificial Language",
    }
    assert {code: langs[code]["family"] for code in expected} == expected
    counts = Counter(e["family"] for e in langs.values())
    assert counts.most_common(1)[0][0] == "Indo-European"
    assert all(isinstance(f, str) and f for f in counts)


def test_every_massive_locale_has_its_flores_entry() -> None:
    from_data = {
        e["massive_locale"]: code
        for code, e in LANGUAGES["languages"].items()
        if e["massive_locale"] is not None
    }
    assert len(from_data) == 52  # MASSIVE 1.1: 51 languages plus ca-ES
    assert from_data["hi-IN"] == "hin_Deva" and from_data["zh-TW"] == "zho_Hant"
    assert all(len(loc.split("-")) == 2 for loc in from_data)
    try:
        from tokenmill.report.corpus import MASSIVE_TO_FLORES
    except ImportError:  # extension not built
        return
    assert from_data == dict(MASSIVE_TO_FLORES)


def test_native_names_are_in_their_script() -> None:
    for code, info in CURATED.items():
        script = code.split("_")[1]
        assert script_share(info["native_name"], script) >= MIN_SCRIPT_SHARE, code


def test_common_crawl_shares_are_plausible() -> None:
    pct = {code: info["common_crawl_pct"] for code, info in CURATED.items()}
    known = [v for v in pct.values() if v is not None]
    assert sum(known) < 100
    assert pct[PIVOT] == max(known), "English is the largest language in Common Crawl"


def test_languages_document_sources_and_limits() -> None:
    sources = LANGUAGES["sources"]
    assert isinstance(sources, dict) and sources
    for key, citation in sources.items():
        assert isinstance(citation, str) and len(citation) > 40, key
    assert "lai2023" in sources and "2023" in sources["lai2023"]
    limits = LANGUAGES["limits"]
    assert isinstance(limits, str) and len(limits) > 300


# ---------------------------------------------------------------------------------------------
# Every check can fail: feed it broken data.


def _tiny() -> list[Row]:
    return [
        {"lang": "eng_Latn", "id": "a", "text": "Good morning."},
        {"lang": "eng_Latn", "id": "b", "text": "See you at 7."},
        {"lang": "rus_Cyrl", "id": "a", "text": "Доброе утро."},
        {"lang": "rus_Cyrl", "id": "b", "text": "До встречи в 7."},
    ]


def test_check_completeness_catches_gaps_and_duplicates() -> None:
    langs = ["eng_Latn", "rus_Cyrl"]
    assert completeness_problems(_tiny(), langs, 2) == []
    missing = _tiny()[:-1]
    assert completeness_problems(missing, langs, 2) == ["rus_Cyrl lacks ['b']"]
    duplicated = [*_tiny(), _tiny()[0]]
    assert completeness_problems(duplicated, langs, 2) == ["duplicate ('eng_Latn', 'a')"]
    assert completeness_problems(_tiny(), langs, 3) == ["only 2 sentence ids, want at least 3"]
    assert completeness_problems(_tiny(), ["eng_Latn"], 2) == ["unexpected language rus_Cyrl"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("   ", "empty text"),
        ("", "empty text"),
        (" padded", "stray whitespace"),
        ("two  spaces", "stray whitespace"),
        ("line\nbreak", "stray whitespace"),
        ("Cafe\u0301", "not NFC"),
        ("bad \ufffd byte", "replacement character"),
    ],
)
def test_check_text_catches(text: str, problem: str) -> None:
    rows = [{"lang": "eng_Latn", "id": "a", "text": text}]
    found = text_problems(rows)
    assert any(problem in p for p in found), found


def test_check_script_catches_wrong_script() -> None:
    assert script_problems(_tiny()) == []
    transliterated = [{"lang": "rus_Cyrl", "id": "a", "text": "Dobroe utro."}]
    assert script_problems(transliterated) == ["rus_Cyrl/a: only 0% of letters are Cyrl"]
    english_in_hindi = [{"lang": "hin_Deva", "id": "a", "text": "Good morning, दोस्त."}]
    assert len(script_problems(english_in_hindi)) == 1
    assert script_share("中文テキスト", "Jpan") == 1.0
    assert script_share("中文テキスト", "Hans") == pytest.approx(2 / 6)


def test_check_duplicates_catches_copied_translation_but_not_digits() -> None:
    assert duplicate_translation_problems(_tiny()) == []
    copied = [*_tiny(), {"lang": "ukr_Cyrl", "id": "a", "text": "Доброе утро."}]
    assert duplicate_translation_problems(copied) == ["a: ukr_Cyrl text is identical to rus_Cyrl"]
    digits = [
        {"lang": "eng_Latn", "id": "n", "text": "365 / 24"},
        {"lang": "rus_Cyrl", "id": "n", "text": "365 / 24"},
    ]
    assert duplicate_translation_problems(digits) == []
