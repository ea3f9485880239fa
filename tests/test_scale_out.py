"""Scale-out on loopback (docs/scale-out.md): one Chroma server (`chroma run`), one
llama-cpp-python server on the bundled GGUF (`python -m llama_cpp.server`) and two
`ragkit serve` processes on one knowledge-base folder whose vectors live in the Chroma server
and whose LLM is the llama server (`chroma_url`, `llm_backend = "openai"`).

Checked: both workers answer with the right citations (also at once); a document uploaded
through one is found through the other by dense, bm25 and hybrid retrieval (the other's BM25
scorer, built at the older keyword generation, is replaced) and listed by it; one deleted
through the second is gone from the first. Real servers and models; answers kept short
(max_tokens 8, 1 passage) because the bundled model evaluates prompts at ~210 tokens/s.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragkit import RAG
from ragkit._models import resolve_model

from ._servers import server_process, wait_until_up, worker_setup
from .conftest import SAMPLE_FILES
from .test_chroma_server import chroma_url, free_port  # noqa: F401 - chroma_url: a fixture
from .test_retrieve_ask import ENGLISH

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
OKAPI = ("# The okapi\n\nThe okapi (Okapia johnstoni) is a forest giraffid that lives only in "
         "the Ituri rainforest of the Democratic Republic of the Congo. Its hindquarters carry "
         "zebra-like stripes, and it browses on the leaves of understory shrubs with a long, "
         "prehensile tongue.\n")
OKAPI_QUESTION = "Which rainforest is the home of the okapi?"


@dataclass
class Topology:
    kb: Path
    workers: list[str]  # the two `ragkit serve` base URLs
    logs: list[Path]


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` serving the bundled GGUF on a free loopback port. By
    default it ends a streaming answer early (a bare ``[DONE]``) as soon as another request
    arrives: with several workers every answer but the last would come back cut short."""
    port = free_port()
    logfile = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model",
           resolve_model("bundled:SmolLM2-135M-Instruct"), "--host", "127.0.0.1", "--port",
           str(port), "--n_ctx", "2048", "--seed", "0", "--interrupt_requests", "False"]
    with server_process(cmd, logfile) as proc:
        wait_until_up(f"http://127.0.0.1:{port}/v1/models", proc, logfile, 120)
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, samples: Path, embedder: Any,
             chroma_url: str, llama_url: str) -> Iterator[Topology]:  # noqa: F811
    root = tmp_path_factory.mktemp("scale-out")
    kb = root / "kb"
    kb.mkdir()
    (kb / "ragkit.toml").write_text(
        f'chroma_url = "{chroma_url}"\ncollection = "scale_out"\nllm_backend = "openai"\n'
        f'openai_base_url = "{llama_url}"\nmax_tokens = 8\npassages = 1\n', encoding="utf-8")
    report = RAG(kb, embedder=embedder).ingest(samples)  # vectors into the Chroma server
    assert report.ok and report.chunks_added > 0, report.failures
    env, ports, logs = worker_setup(root)
    with ExitStack() as running:
        procs = [running.enter_context(server_process(
            [str(BIN / "ragkit"), "serve", "--kb", str(kb), "--port", str(port)], logfile,
            env=env, cwd=root)) for port, logfile in zip(ports, logs, strict=True)]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc, logfile in zip(urls, procs, logs, strict=True):
            wait_until_up(f"{url}/health", proc, logfile, 180)
        yield Topology(kb, urls, logs)
    for logfile in logs:
        assert "Traceback" not in logfile.read_text(), logfile.read_text()


def retrieve(url: str, query: str, mode: str, k: int = 3) -> list[str]:
    r = httpx.post(f"{url}/v1/retrieve", json={"query": query, "mode": mode, "k": k},
                   timeout=60)
    assert r.status_code == 200, r.text
    return [Path(h["source"]).name for h in r.json()["hits"]]


def ask(url: str, question: str) -> dict[str, Any]:
    body = {"model": "kb", "max_tokens": 8, "temperature": 0,
            "messages": [{"role": "user", "content": question}]}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=180)
    assert r.status_code == 200, r.text
    return dict(r.json())


def names(url: str) -> set[str]:
    r = httpx.get(f"{url}/v1/documents", timeout=30)
    assert r.status_code == 200, r.text
    return {d["name"] for d in r.json()["data"]}


class TestScaleOut:
    def test_both_workers_answer_at_once_with_the_right_citations(
            self, topology: Topology) -> None:
        jobs = [(topology.workers[i % 2], q, name) for i, (q, name) in enumerate(ENGLISH[:4])]
        out: dict[int, dict[str, Any]] = {}

        def run(i: int) -> None:
            out[i] = ask(jobs[i][0], jobs[i][1])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert sorted(out) == list(range(len(jobs)))
        for i, (_, _, name) in enumerate(jobs):
            body = out[i]
            assert body["model"] == "kb"
            assert body["usage"]["completion_tokens"] >= 1  # the llama server generated
            assert [Path(c["source"]).name for c in body["ragkit"]["citations"]] == [name]

    def test_an_upload_through_one_is_found_through_the_other(
            self, topology: Topology) -> None:
        a, b = topology.workers
        for url in (a, b):  # each worker's scorer is now built at the current generation
            assert "okapi.md" not in retrieve(url, OKAPI_QUESTION, "bm25")
            assert "okapi.md" not in retrieve(url, OKAPI_QUESTION, "dense")
        before = set((topology.kb / "bm25").iterdir())
        r = httpx.post(f"{a}/v1/documents", files={"file": ("okapi.md", OKAPI.encode())},
                       timeout=120)
        assert r.status_code == 201, r.text
        assert r.json()["ingest"]["chunks"]["added"] >= 1
        assert set((topology.kb / "bm25").iterdir()) != before  # a new keyword generation
        for url in (b, a):
            for mode in ("dense", "bm25", "hybrid"):
                assert retrieve(url, OKAPI_QUESTION, mode)[0] == "okapi.md", (url, mode)
            assert "okapi.md" in names(url)
        answer = ask(b, OKAPI_QUESTION)
        assert [Path(c["source"]).name for c in answer["ragkit"]["citations"]] == ["okapi.md"]

        doc_id = r.json()["document"]["id"]
        gone = httpx.delete(f"{b}/v1/documents/{doc_id}", timeout=60)
        assert gone.status_code == 200 and gone.json()["chunks"] >= 1, gone.text
        for url in (a, b):
            assert "okapi.md" not in names(url)
            for mode in ("dense", "bm25", "hybrid"):
                assert "okapi.md" not in retrieve(url, OKAPI_QUESTION, mode), (url, mode)

    def test_uploads_through_both_at_once_take_turns_on_the_writer_lock(
            self, topology: Topology) -> None:
        """The writer lock (an flock on kb/ingest.lock) spans processes: of two uploads at
        once through two workers, each is ingested or refused with 409 ``locked`` (retried
        here); none is lost or half written."""
        files = {"quokka.md": "The quokka is a small wallaby of Rottnest Island.\n",
                 "axolotl.md": "The axolotl is a salamander of Lake Xochimilco.\n"}
        statuses: dict[str, list[int]] = {name: [] for name in files}
        ids: dict[str, str] = {}
        start = threading.Barrier(2)

        def upload(url: str, name: str) -> None:
            start.wait()
            for _ in range(60):
                r = httpx.post(f"{url}/v1/documents", timeout=120,
                               files={"file": (name, files[name].encode())})
                statuses[name].append(r.status_code)
                if r.status_code != 409:
                    ids[name] = r.json()["document"]["id"]
                    return
                assert r.json()["error"]["code"] == "locked" and r.headers["retry-after"]
                time.sleep(0.5)

        threads = [threading.Thread(target=upload, args=(url, name))
                   for url, name in zip(topology.workers, files, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert all(s[-1] == 201 and set(s) <= {201, 409} for s in statuses.values()), statuses
        for url in topology.workers:
            assert {"quokka.md", "axolotl.md"} <= names(url)
            assert retrieve(url, "Rottnest Island wallaby", "bm25")[0] == "quokka.md"
            assert retrieve(url, "Xochimilco salamander", "bm25")[0] == "axolotl.md"
        for name, doc_id in ids.items():
            r = httpx.delete(f"{topology.workers[0]}/v1/documents/{doc_id}", timeout=60)
            assert r.status_code == 200, (name, r.text)

    def test_the_store_and_the_record_agree(self, topology: Topology, embedder: Any) -> None:
        rag = RAG(topology.kb, embedder=embedder)
        docs = rag.documents()
        assert set(SAMPLE_FILES) <= {Path(d.source).name for d in docs}
        assert rag.count() == sum(d.chunks for d in docs)  # the Chroma server's count

    def test_a_server_store_is_never_reopened(self, topology: Topology, embedder: Any) -> None:
        """The retriever's catch-up (reopen a stale embedded store) is a no-op here: the
        Chroma server is always current, and reopening would only cost a connection."""
        rag = RAG(topology.kb, embedder=embedder)
        store: Any = rag.store
        client = store._client
        store.reopen()
        assert store._client is client
        assert rag.retrieve("How many moons does Jupiter have?", k=1)[0].chunk.source.endswith(
            "solar_system.html")
