"""`ragkit serve` as a real server on loopback, driven by real clients: the `openai` SDK
(streaming and not) and LangChain's `ChatOpenAI`, with the real models and a copy of the
sample knowledge base; an API key set; 8 parallel clients. Answers are kept short
(max_tokens 16, 2 passages): the bundled model evaluates prompts at ~210 tokens/s."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragkit import RAG

from ._servers import server_process, wait_until_up
from .test_chroma_server import free_port
from .test_retrieve_ask import QUESTIONS

pytestmark = pytest.mark.slow
KEY = "clients-test-key-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sample_kb: RAG) -> Iterator[str]:
    root = tmp_path_factory.mktemp("serve")
    kb = root / "kb"
    shutil.copytree(sample_kb.kb, kb)
    (kb / "ragkit.toml").write_text("max_tokens = 16\npassages = 2\n", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    env["RAGKIT_API_KEY"] = KEY
    logfile = root / "serve.log"
    cmd = [str(Path(sys.executable).parent / "ragkit"), "serve", "--kb", str(kb), "--port",
           str(port), "--queue-size", "4"]
    url = f"http://127.0.0.1:{port}"
    with server_process(cmd, logfile, env=env, cwd=root, strict_stop=True) as proc:
        wait_until_up(f"{url}/health", proc, logfile, 180, status=200)
        yield url
    assert "Traceback" not in logfile.read_text()


def openai_client(url: str) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=120)


class TestOpenAISDK:
    def test_models_and_a_cited_answer(self, server: str) -> None:
        client = openai_client(server)
        assert [m.id for m in client.models.list()] == ["kb"]
        done = client.chat.completions.create(
            model="kb", messages=[{"role": "user", "content": "How much does an adult llama "
                                   "weigh?"}], max_tokens=16, temperature=0)
        assert done.choices[0].message.content.strip()
        assert done.choices[0].finish_reason in ("stop", "length")
        assert done.usage is not None and done.usage.prompt_tokens > 50
        ragkit = done.model_extra["ragkit"]
        assert Path(ragkit["citations"][0]["source"]).name == "llamas.md"
        assert ragkit["timings"]["first_token_ms"] > 0

    def test_streaming(self, server: str) -> None:
        client = openai_client(server)
        stream = client.chat.completions.create(
            model="kb", messages=[{"role": "user", "content": "How many moons does Jupiter "
                                   "have?"}], max_tokens=16, stream=True)
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.strip() and len(chunks) >= 3
        last = chunks[-1]
        assert last.choices[0].finish_reason in ("stop", "length")
        citations = last.model_extra["ragkit"]["citations"]
        assert Path(citations[0]["source"]).name == "solar_system.html"

    def test_without_the_key_is_refused(self, server: str) -> None:
        from openai import AuthenticationError, OpenAI

        assert httpx.get(f"{server}/health").json() == {"status": "ok"}
        r = httpx.get(f"{server}/v1/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        wrong = OpenAI(base_url=f"{server}/v1", api_key="sk-wrong", max_retries=0)
        with pytest.raises(AuthenticationError):
            wrong.models.list()

    def test_eight_parallel_clients_succeed_or_get_a_clean_429(self, server: str) -> None:
        from openai import RateLimitError

        questions = QUESTIONS[:8]
        results: dict[int, Any] = {}
        start = threading.Barrier(len(questions))

        def ask(i: int) -> None:
            client = openai_client(server)
            start.wait()
            try:
                results[i] = client.chat.completions.create(
                    model="kb", messages=[{"role": "user", "content": questions[i][0]}],
                    max_tokens=8, extra_body={"ragkit": {"k": 1}})
            except RateLimitError as exc:
                results[i] = exc

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert sorted(results) == list(range(8))
        answered = [i for i, r in results.items() if not isinstance(r, Exception)]
        refused = [r for r in results.values() if isinstance(r, Exception)]
        assert len(answered) >= 5, "one generating and four waiting are always taken"
        for r in refused:
            assert r.status_code == 429 and int(r.response.headers["retry-after"]) >= 1
            assert r.body["code"] == "queue_full"
        for i in answered:  # each answer cites its own passage, never another request's
            citations = results[i].model_extra["ragkit"]["citations"]
            assert [Path(c["source"]).name for c in citations] == [questions[i][1]]
        metrics = httpx.get(f"{server}/metrics", headers={"Authorization": f"Bearer {KEY}"})
        assert "ragkit_generation_active 0" in metrics.text
        assert "ragkit_generation_queue_waiting 0" in metrics.text

    def test_a_streaming_client_that_leaves_frees_the_model(self, server: str) -> None:
        auth = {"Authorization": f"Bearer {KEY}"}
        body = {"model": "kb", "stream": True, "max_tokens": 16,
                "messages": [{"role": "user", "content": "Where was coffee first cultivated?"}]}
        with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, headers=auth,
                          timeout=60) as r:
            for line in r.iter_lines():
                if '"content": "' in line and '"content": ""' not in line:
                    break  # the first piece of text, then hang up
        client = openai_client(server)
        done = client.chat.completions.create(
            model="kb", messages=[{"role": "user", "content": "Who popularised tea?"}],
            max_tokens=4)
        assert done.choices[0].message.content is not None


class TestLangChain:
    def test_chat_openai_invoke_stream_and_follow_up(self, server: str) -> None:
        from langchain_core.messages import AIMessage, HumanMessage
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(model="kb", base_url=f"{server}/v1", api_key=KEY, max_tokens=16,
                         temperature=0, max_retries=0, timeout=120)
        reply = llm.invoke("Where do llamas live?")
        assert isinstance(reply, AIMessage) and reply.content.strip()
        pieces = [c.content for c in llm.stream("How many moons does Jupiter have?")]
        assert "".join(str(p) for p in pieces).strip() and len(pieces) >= 2
        follow = llm.invoke([HumanMessage("Where do llamas live?"), reply,
                             HumanMessage("How much do they weigh?")])
        assert isinstance(follow, AIMessage) and follow.content.strip()
