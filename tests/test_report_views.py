"""How the report reads: language names and scripts for every FLORES-200 code, corpus codes,
the metrics beyond the premium, the plots at 204 languages and the self-contained HTML page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from flores_layout import flores_codes, write_flores_layout
from report_counters import ByteCounter, CharCounter, HalfByteCounter, WordCounter
from tokenmill.report.corpus import Corpus, load_corpus
from tokenmill.report.languages import describe
from tokenmill.report.model import Report, token_length_report
from tokenmill.report.render import render, render_html

FIX = Path(__file__).parent / "fixtures" / "report"


FOUR = (ByteCounter(), CharCounter(), WordCounter(), HalfByteCounter())


@pytest.fixture(scope="module")
def flores_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_flores_layout(tmp_path_factory.mktemp("flores200"))


@pytest.fixture(scope="module")
def flores_report(flores_dir: Path) -> Report:
    return token_length_report(flores_dir, tokenizers=FOUR, split="devtest", progress=False)


# ---------------------------------------------------------------------------------------------
# Names, scripts and codes


def test_every_flores200_code_has_a_name_and_a_script(flores_report: Report) -> None:
    codes = flores_codes()
    assert len(codes) == 204 and flores_report.n_languages == 204
    rows = flores_report.for_tokenizer("bytes")
    assert {r.language for r in rows} == set(codes)
    for r in rows:
        script = r.language.split("_")[1]
        assert r.name != r.language and r.name, r.language
        assert r.script == script, r.language
        assert r.corpus_code == r.language  # FLORES files are named by their code
    names = {r.language: r.name for r in rows}
    assert names["shn_Mymr"] == "Shan" and names["ydd_Hebr"] == "Eastern Yiddish"
    assert names["ajp_Arab"] == "South Levantine Arabic"  # a code ISO 639-3 has since retired
    assert all(r.family for r in rows)
    assert {r.language: r.family for r in rows}["shn_Mymr"] == "Tai-Kadai"
    table = render(flores_report, "table")
    assert "| shn_Mymr | shn_Mymr |" not in render(flores_report, "markdown")
    assert "Shan" in table and "Tamasheq (Tifinagh script)" in table


def test_massive_keeps_its_locales() -> None:
    corpus = load_corpus(FIX / "massive")
    assert corpus.corpus_code("hin_Deva") == "hi-IN" and corpus.corpus_code("xx-QQ") == "xx-QQ"
    rep = token_length_report(corpus, tokenizers=[WordCounter()], pivot="en-US")
    by_lang = {r.language: r for r in rep.entries}
    assert rep.pivot == "eng_Latn"
    assert by_lang["hin_Deva"].corpus_code == "hi-IN" and by_lang["hin_Deva"].name == "Hindi"
    assert by_lang["eng_Latn"].corpus_code == "en-US"
    unknown = by_lang["xx-QQ"]
    assert (unknown.name, unknown.corpus_code, unknown.script) == ("xx-QQ", "xx-QQ", None)
    table = render(rep, "table")
    header = next(ln for ln in table.splitlines() if ln.startswith("language"))
    assert "corpus code" in header
    hindi = next(ln for ln in table.splitlines() if ln.startswith("Hindi"))
    assert hindi.split()[1:3] == ["hin_Deva", "hi-IN"]
    selected = token_length_report(corpus, tokenizers=[WordCounter()], languages=["hi-IN"])
    assert {r.corpus_code for r in selected.entries} == {"en-US", "hi-IN"}


def test_unknown_codes_keep_working() -> None:
    assert describe("qqq").name == "qqq" and describe("qqq").known is False
    odd = describe("xyz_Deva")  # not a FLORES-200 language, but a known script
    assert (odd.name, odd.script, odd.script_name, odd.known) == (
        "xyz_Deva",
        "Deva",
        "Devanagari",
        False,
    )
    assert describe("hi-IN").name == "Hindi" and describe("hi-IN").code == "hi-IN"
    assert describe("hin_Deva", info={}).name == "hin_Deva"


# ---------------------------------------------------------------------------------------------
# Metrics beyond the premium


def test_fertility_and_shares_over_the_pivot() -> None:
    rows = [
        ("eng_Latn", "1", "a b c d"),  # 4 chars-per-token words... counted by CharCounter
        ("eng_Latn", "2", "a b"),
        ("eng_Latn", "3", "a"),
        ("deu_Latn", "1", "aaaa bbbb cccc dddd"),  # 19 chars vs 7: 2.7x
        ("deu_Latn", "2", "a b"),  # 3 vs 3: 1x
        ("deu_Latn", "3", "aaaa"),  # 4 vs 1: 4x
        ("zho_Hans", "1", "一二三四五六七"),  # 7 vs 7
        ("zho_Hans", "2", "一二三四五六七八九十"),  # 10 vs 3
        ("zho_Hans", "3", "一"),
    ]
    rep = token_length_report(Corpus.from_rows(rows), tokenizers=[CharCounter()])
    by = {r.language: r for r in rep.entries}
    deu, zho = by["deu_Latn"], by["zho_Hans"]
    assert deu.fertility == pytest.approx((19 + 3 + 4) / (4 + 2 + 1))
    assert by["eng_Latn"].fertility == pytest.approx((7 + 3 + 1) / (4 + 2 + 1))
    assert zho.fertility is None  # Han: no spaces between words
    # ratios per id: deu 19/7, 3/3, 4/1 -> two of three at >= 2x, one at >= 4x
    assert deu.share_over_2x == pytest.approx(2 / 3) and deu.share_over_4x == pytest.approx(1 / 3)
    # zho 7/7, 10/3, 1/1
    assert zho.share_over_2x == pytest.approx(1 / 3) and zho.share_over_4x == 0.0
    assert by["eng_Latn"].share_over_2x == 0.0


def test_script_aggregates_match_numpy(flores_report: Report) -> None:
    aggs = {(a.tokenizer, a.script): a for a in flores_report.by_script()}
    for tok in flores_report.tokenizers:
        by_script: dict[str, list[float]] = {}
        for r in flores_report.for_tokenizer(tok):
            if r.language != flores_report.pivot and r.premium is not None:
                by_script.setdefault(r.script or "?", []).append(r.premium)
        assert {s for t, s in aggs if t == tok} == set(by_script)
        for script, values in by_script.items():
            a = aggs[(tok, script)]
            assert a.languages == len(values)
            assert a.median_premium == pytest.approx(float(np.median(values)))
            assert (a.min_premium, a.max_premium) == (min(values), max(values))
    latin = aggs[("bytes", "Latn")]
    assert latin.languages == 126 and latin.script_name == "Latin"  # 127 less the pivot
    medians = [a.median_premium for a in flores_report.by_script() if a.tokenizer == "bytes"]
    known = [m for m in medians if m is not None]
    assert len(known) == len(medians) and known == sorted(known, reverse=True)


# ---------------------------------------------------------------------------------------------
# Plots


def test_dot_layout_fits_a4_portrait_up_to_300_rows() -> None:
    from tokenmill.report.plot import A4_PORTRAIT_IN, dot_layout

    for rows in range(1, 301):
        lay = dot_layout(rows)
        assert lay.width_in <= A4_PORTRAIT_IN[0] and lay.height_in <= A4_PORTRAIT_IN[1], rows
        assert lay.columns * lay.rows_per_column >= rows
        assert lay.font_pt >= 5.0, rows
    # 204 FLORES-200 languages + 29 script headers + 2 spare rows for repeated headers
    assert dot_layout(235).font_pt >= 6.5
    assert dot_layout(40).columns == 1 and dot_layout(233).columns == 3


@pytest.mark.parametrize("n_tok", [1, 4])
def test_plots_for_204_languages_fit_a_page_and_are_valid_files(
    flores_report: Report, tmp_path: Path, n_tok: int
) -> None:
    pytest.importorskip("matplotlib")
    from tokenmill.report.plot import A4_PORTRAIT_IN, write_plots

    rep = flores_report
    if n_tok == 1:
        rep = token_length_report(
            load_corpus(write_flores_layout(tmp_path / "c")), [WordCounter()], progress=False
        )
    pngs = write_plots(rep, tmp_path / "p.png", dpi=100)
    svgs = write_plots(rep, tmp_path / "p.svg")
    pdf = write_plots(rep, tmp_path / "p.pdf")[0]
    expected = ["p", "p-scripts"] + (["p-scatter"] if n_tok > 1 else [])
    assert [p.stem for p in pngs] == [p.stem for p in svgs] == expected
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width <= 100 * A4_PORTRAIT_IN[0] + 1 and height <= 100 * A4_PORTRAIT_IN[1] + 1
    for svg in svgs:
        root = ET.parse(svg).getroot()  # well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        w = float(root.attrib["width"].removesuffix("pt")) / 72
        h = float(root.attrib["height"].removesuffix("pt")) / 72
        assert w <= A4_PORTRAIT_IN[0] + 0.01 and h <= A4_PORTRAIT_IN[1] + 0.01
    main_svg = svgs[0].read_text(encoding="utf-8")
    for name in ("Shan", "Standard Tibetan", "Latin (127)", "Devanagari (10)"):
        assert name in main_svg, name  # every language named, grouped under its script
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_scatter_needs_two_tokenizers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from tokenmill.report.plot import plot_scatter

    rep = token_length_report(None, tokenizers=[WordCounter()], languages=["hin_Deva"])
    with pytest.raises(ValueError, match="two tokenizers"):
        plot_scatter(rep, tmp_path / "s.png")


# ---------------------------------------------------------------------------------------------
# HTML


def _page(rep: Report) -> str:
    pytest.importorskip("matplotlib")
    return render_html(rep)


def test_html_is_self_contained_and_holds_every_row(flores_report: Report) -> None:
    page = _page(flores_report)
    assert "http" not in page.lower()  # no URL of any kind: nothing to fetch
    # references stay inside the page: only fragments (the SVGs' glyphs and clip paths)
    refs = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert all(ref.startswith("#") for ref in refs), {r for r in refs if not r.startswith("#")}
    assert "<link" not in page and "@import" not in page and "<img" not in page
    assert page.count("<svg") == 3  # dot plot, per-script summary, scatter
    body = page.split('<table id="rows">')[1].split("</table>")[0]
    trs = re.findall(r'<tr data-script="([^"]*)" data-tok="([^"]*)"', body)
    assert len(trs) == len(flores_report.entries) == 204 * 4
    assert {t for _, t in trs} == set(flores_report.tokenizers)
    assert {s for s, _ in trs} == {r.script for r in flores_report.entries}
    for r in flores_report.entries[:50]:
        assert f">{r.name}</td>" in body
    # the sort keys are the exact premiums
    first = re.search(r"<tr [^>]*>(.*?)</tr>", body)
    assert first is not None
    keys = [float(v) for v in re.findall(r'data-v="([^"]+)"', first.group(1))]
    assert flores_report.entries[0].premium in keys
    assert 'id="f-script"' in page and 'id="f-tok"' in page and "<script>" in page


_DOM_SHIM = r"""
// A minimal DOM: enough for the page's script (rows, cells, attributes, events).
function el(attrs, text){return {attrs:attrs||{},textContent:text||'',hidden:false,l:{},
 getAttribute(k){return k in this.attrs?this.attrs[k]:null;},
 setAttribute(k,v){this.attrs[k]=String(v);},removeAttribute(k){delete this.attrs[k];},
 addEventListener(e,f){this.l[e]=f;}};}
const spec=JSON.parse(require('fs').readFileSync(0,'utf8'));
const heads=spec.heads.map(h=>el({},h));
const body={rows:[],appendChild(r){this.rows.splice(this.rows.indexOf(r),1);this.rows.push(r);}};
body.rows=spec.rows.map(r=>{const t=el(r.attrs);t.cells=r.cells.map(c=>el(c.attrs,c.text));
 return t;});
const table={tHead:{rows:[{cells:heads}]},tBodies:[body]};
const ids={rows:table,'f-script':el(),'f-tok':el(),'f-q':el(),'n-shown':el()};
ids['f-script'].value='';ids['f-tok'].value='';ids['f-q'].value='';
global.document={getElementById:k=>ids[k]};
eval(spec.script);
const out={};
const col=spec.heads.indexOf('premium');
heads[col].l.click();
out.asc=body.rows.map(r=>r.cells[0].textContent+'/'+r.cells[1].textContent);
heads[col].l.click();
out.desc=body.rows.map(r=>r.cells[0].textContent+'/'+r.cells[1].textContent);
ids['f-script'].value='Deva';ids['f-script'].l.change();
out.deva=body.rows.filter(r=>!r.hidden).map(r=>r.cells[1].textContent);
ids['f-tok'].value='chars';ids['f-tok'].l.change();
out.devaChars=body.rows.filter(r=>!r.hidden).map(r=>r.cells[1].textContent);
out.shown=ids['n-shown'].textContent;
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the page's script")
def test_html_script_sorts_and_filters() -> None:
    rows = [
        ("eng_Latn", "1", "one two three"),
        ("hin_Deva", "1", "एक दो तीन"),
        ("mar_Deva", "1", "एक दोन"),
        ("rus_Cyrl", "1", "раз два три четыре"),
    ]
    rep = token_length_report(
        Corpus.from_rows(rows), tokenizers=[ByteCounter(), CharCounter()], progress=False
    )
    page = render_html(rep, svgs={})
    table = page.split('<table id="rows">')[1].split("</table>")[0]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    spec_rows = []
    for attrs, inner in re.findall(r"<tr ([^>]*)>(.*?)</tr>", table):
        cells = [
            {"attrs": dict(re.findall(r'([\w-]+)="([^"]*)"', a)), "text": t}
            for a, t in re.findall(r"<td([^>]*)>([^<]*)</td>", inner)
        ]
        spec_rows.append({"attrs": dict(re.findall(r'([\w-]+)="([^"]*)"', attrs)), "cells": cells})
    script = page.split("<script>")[1].split("</script>")[0]
    spec = {"heads": heads, "rows": spec_rows, "script": script}
    done = subprocess.run(
        ["node", "-e", _DOM_SHIM],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    premiums: dict[tuple[str, ...], float] = {}
    for r in rep.entries:
        assert r.premium is not None
        premiums[(r.tokenizer, r.language)] = r.premium
    by_value = sorted(premiums, key=lambda k: (premiums[k], k))
    asc = [tuple(x.split("/")) for x in out["asc"]]
    assert [premiums[k] for k in asc] == [premiums[k] for k in by_value]
    assert [premiums[tuple(x.split("/"))] for x in out["desc"]] == sorted(
        premiums.values(), reverse=True
    )
    assert sorted(out["deva"]) == ["hin_Deva", "hin_Deva", "mar_Deva", "mar_Deva"]
    assert sorted(out["devaChars"]) == ["hin_Deva", "mar_Deva"] and out["shown"] == 2
