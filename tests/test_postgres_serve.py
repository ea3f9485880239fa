"""Two ``ragkit serve`` workers as on two machines (docs/scale-out.md): each on its OWN
knowledge-base folder (only ragkit.toml, bm25/, documents/ of its own), sharing one
knowledge base through ``database_url`` (a real PostgreSQL server) and ``chroma_url`` (a
real ``chroma run``). No LLM: retrieval and documents only. About 30 s (two workers
loading the embedding model), so not marked slow.

An upload through A is found through B (dense, bm25, hybrid) and listed by it; a delete
through B is gone from A; two uploads at once through A and B take turns on the advisory
writer lock (409 ``locked``, retried), none lost.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from ._postgres import PgServer, pg_server
from ._servers import server_process, wait_until_up, worker_setup
from .test_chroma_server import chroma_url  # noqa: F401 - chroma_url: a fixture
from .test_postgres_e2e import OKAPI, QUESTION

BIN = Path(sys.executable).parent
MODES = ("dense", "bm25", "hybrid")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory,
            chroma_url: str) -> Iterator[list[str]]:  # noqa: F811
    with pg_server() as pg:
        yield from _start(tmp_path_factory.mktemp("pg-serve"), pg, chroma_url)


def _start(root: Path, pg: PgServer, chroma: str) -> Iterator[list[str]]:
    database = pg.database()
    env, ports, logs = worker_setup(root)
    with ExitStack() as running:
        procs = []
        for i, (port, log) in enumerate(zip(ports, logs, strict=True)):
            kb = root / f"machine-{'ab'[i]}"
            kb.mkdir()
            (kb / "ragkit.toml").write_text(
                f'chroma_url = "{chroma}"\ncollection = "pg_serve"\ndatabase_url = '
                f'"{database}"\nllm_backend = "openai"\n', encoding="utf-8")
            procs.append(running.enter_context(server_process(
                [str(BIN / "ragkit"), "serve", "--kb", str(kb), "--port", str(port)], log,
                env=env, cwd=root)))
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc, log in zip(urls, procs, logs, strict=True):
            wait_until_up(f"{url}/health", proc, log, 180)
        yield urls
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()


def retrieve(url: str, query: str, mode: str) -> list[str]:
    r = httpx.post(f"{url}/v1/retrieve", json={"query": query, "mode": mode, "k": 3},
                   timeout=60)
    assert r.status_code == 200, r.text
    return [Path(h["source"]).name for h in r.json()["hits"]]


def names(url: str) -> set[str]:
    r = httpx.get(f"{url}/v1/documents", timeout=30)
    assert r.status_code == 200, r.text
    return {d["name"] for d in r.json()["data"]}


def upload(url: str, name: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/documents", files={"file": (name, text.encode())},
                      timeout=120)


def test_an_upload_through_one_machine_is_found_through_the_other(
        workers: list[str]) -> None:
    a, b = workers
    first = upload(a, "llamas.md", "# Llamas\n\nLlamas hum to their young in the Andes.\n")
    assert first.status_code == 201, first.text
    assert retrieve(b, "Which animal hums to its young?", "bm25")[0] == "llamas.md"
    r = upload(a, "okapi.md", OKAPI)  # B's scorer is one generation behind now
    assert r.status_code == 201, r.text
    for url in (b, a):
        for mode in MODES:
            assert retrieve(url, QUESTION, mode)[0] == "okapi.md", (url, mode)
        assert {"okapi.md", "llamas.md"} <= names(url)
    gone = httpx.delete(f"{b}/v1/documents/{r.json()['document']['id']}", timeout=60)
    assert gone.status_code == 200 and gone.json()["chunks"] >= 1, gone.text
    for url in (a, b):
        assert "okapi.md" not in names(url)
        for mode in MODES:
            assert "okapi.md" not in retrieve(url, QUESTION, mode), (url, mode)


def test_uploads_through_both_at_once_take_turns(workers: list[str]) -> None:
    files = {"quokka.md": "The quokka is a small wallaby of Rottnest Island.\n",
             "axolotl.md": "The axolotl is a salamander of Lake Xochimilco.\n"}
    statuses: dict[str, list[int]] = {name: [] for name in files}
    start = threading.Barrier(2)

    def send(url: str, name: str) -> None:
        start.wait()
        for _ in range(60):
            r = upload(url, name, files[name])
            statuses[name].append(r.status_code)
            if r.status_code != 409:
                return
            assert r.json()["error"]["code"] == "locked" and r.headers["retry-after"]
            time.sleep(0.5)

    threads = [threading.Thread(target=send, args=(url, name))
               for url, name in zip(workers, files, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(s[-1] == 201 and set(s) <= {201, 409} for s in statuses.values()), statuses
    for url in workers:
        assert set(files) <= names(url)
        assert retrieve(url, "Rottnest Island wallaby", "bm25")[0] == "quokka.md"
        assert retrieve(url, "Xochimilco salamander", "bm25")[0] == "axolotl.md"
