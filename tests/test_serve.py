"""`ragkit serve`'s app in process (FastAPI's TestClient, httpx's ASGI transport): the
endpoints, auth, limits, errors, queueing. Retrieval, Chroma, ingestion and the embedding
model are real (a copy of the sample knowledge base); the LLM is a fake following the port,
so the logic is tested fast. tests/test_serve_clients.py runs the real server, model and
clients."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ragkit import RAG, BackendError
from ragkit.serve import ServeConfig, create_app, openapi_document
from ragkit.serve.auth import is_loopback
from ragkit.serve.limits import GenerationQueue, QueueFull, RateLimiter

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key-0123456789abcdef"
Q = "How much does an adult llama weigh?"


class FakeLLM:
    """Follows the LLM port: answers "About <question> see [1].", records every call and
    how many ran at once; ``gate`` (if set) holds each answer until it is set."""

    name = "fake"
    n_ctx = 2048

    def __init__(self, gate: threading.Event | None = None, fail: Exception | None = None):
        self.gate, self.fail = gate, fail
        self.calls: list[list[dict[str, str]]] = []
        self.entered = threading.Event()
        self.running = self.most = 0
        self._lock = threading.Lock()

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        with self._lock:
            self.calls.append(messages)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(30)
            if self.fail is not None:
                raise self.fail
            for piece in ("About ", messages[-1]["content"], " see [1]."):
                time.sleep(0.002)
                yield piece
        finally:
            with self._lock:
                self.running -= 1

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def kb(tmp_path: Path, sample_kb: RAG) -> Path:
    shutil.copytree(sample_kb.kb, tmp_path / "kb")
    return tmp_path / "kb"


def make(kb: Path, embedder: Any, llm: Any = None, config: ServeConfig | None = None,
         **settings: Any) -> tuple[TestClient, RAG]:
    rag = RAG(kb, embedder=embedder, llm=llm or FakeLLM(), **settings)
    # as under uvicorn: an unexpected error is answered (500), not raised into the test
    return TestClient(create_app(rag, config), raise_server_exceptions=False), rag


def chat(question: str = Q, **extra: Any) -> dict[str, Any]:
    return {"model": "kb", "messages": [{"role": "user", "content": question}], **extra}


def events(response: httpx.Response) -> list[Any]:
    out = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["type"] and err["message"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return dict(err)


class TestChatCompletions:
    def test_answer_with_citations_and_usage(self, kb: Path, embedder: Any) -> None:
        client, rag = make(kb, embedder)
        r = client.post("/v1/chat/completions", json=chat(max_tokens=32))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "chat.completion" and body["model"] == "kb"
        assert body["choices"][0]["message"] == {"role": "assistant",
                                                 "content": f"About {Q} see [1]."}
        assert body["choices"][0]["finish_reason"] == "stop"
        cites = body["ragkit"]["citations"]
        expected = rag.retrieve(Q)[0].chunk
        assert cites[0]["n"] == 1 and cites[0]["cited"] and cites[0]["chunk_id"] == expected.id
        assert Path(cites[0]["source"]).name == "llamas.md"
        assert "support" in body["ragkit"] and body["ragkit"]["standalone_question"] is None
        usage = body["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] == 10
        assert usage["total_tokens"] == usage["prompt_tokens"] + 10

    def test_stream_sends_pieces_then_ragkit_in_the_last_chunk(self, kb: Path,
                                                               embedder: Any) -> None:
        client, _ = make(kb, embedder)
        with client.stream("POST", "/v1/chat/completions", json=chat(stream=True)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            got = events(r)
        assert got[-1] == "[DONE]"
        chunks = got[:-1]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == f"About {Q} see [1]."
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert len({c["id"] for c in chunks}) == 1
        last = chunks[-1]
        assert last["choices"][0]["finish_reason"] == "stop"
        assert last["ragkit"]["citations"][0]["cited"] and last["usage"]["completion_tokens"]
        assert all("ragkit" not in c for c in chunks[:-1])

    def test_history_comes_from_the_messages_and_is_condensed(self, kb: Path,
                                                               embedder: Any) -> None:
        llm = FakeLLM()
        client, _ = make(kb, embedder, llm)
        messages = [{"role": "system", "content": "You are a pirate."},
                    {"role": "user", "content": "Where do llamas live?"},
                    {"role": "assistant", "content": "In the Andes [1]."},
                    {"role": "user", "content": [{"type": "text",
                                                  "text": "How much do they weigh?"}]}]
        r = client.post("/v1/chat/completions", json={"model": "kb", "messages": messages})
        assert r.status_code == 200, r.text
        standalone = r.json()["ragkit"]["standalone_question"]
        assert standalone and "weigh" in standalone
        condense, answer = llm.calls  # the follow-up was condensed, then answered
        assert any("Where do llamas live?" in m["content"] for m in condense)
        sent = "\n".join(m["content"] for m in answer)
        assert "In the Andes [1]." in sent, "the earlier turn is in the prompt"
        assert "pirate" not in sent, "system messages are not used"
        metrics = client.get("/metrics").text  # it waited for the model once, before condensing
        assert "ragkit_generation_queue_wait_seconds_count 1\n" in metrics

    def test_ragkit_options_reach_the_pipeline(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder)
        body = chat(ragkit={"k": 1, "mode": "bm25"}, temperature=0.3, stop="\n")
        r = client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert len(r.json()["ragkit"]["citations"]) == 1
        assert "retrieve_bm25_ms" in r.json()["ragkit"]["timings"]

    @pytest.mark.parametrize(("body", "status", "code"), [
        (chat() | {"model": "gpt-4o"}, 404, "model_not_found"),
        ({"model": "kb", "messages": []}, 400, "invalid_request"),
        ({"model": "kb", "messages": [{"role": "assistant", "content": "hi"}]}, 400,
         "invalid_messages"),
        (chat(n=2), 400, "unsupported_n"),
        (chat(temperature=9), 400, "invalid_request"),
        (chat(ragkit={"mode": "fuzzy"}), 400, "invalid_request"),
        (chat(ragkit={"filters": ["nonsense"]}), 400, "validation_error"),
        (chat(max_tokens=4096), 400, "validation_error"),
        (chat("   "), 400, "invalid_messages"),
        (chat("x" * 4001), 400, "validation_error"),
    ])
    def test_bad_requests_are_json_errors(self, kb: Path, embedder: Any, body: dict,
                                          status: int, code: str) -> None:
        client, _ = make(kb, embedder)
        assert_error(client.post("/v1/chat/completions", json=body), status, code)

    def test_models(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder)
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["kb"]
        assert client.get("/v1/models/kb").json()["object"] == "model"
        assert_error(client.get("/v1/models/other"), 404, "model_not_found")


class TestErrors:
    def test_unexpected_error_has_no_details(self, kb: Path, embedder: Any) -> None:
        llm = FakeLLM(fail=RuntimeError("boom at /secret/path/model.gguf"))
        client, _ = make(kb, embedder, llm)
        r = client.post("/v1/chat/completions", json=chat())
        err = assert_error(r, 500, "internal_error")
        assert "secret" not in r.text and "boom" not in r.text and err["type"] == "server_error"

    def test_backend_error_is_503_without_details(self, kb: Path, embedder: Any) -> None:
        llm = FakeLLM(fail=BackendError("llama.cpp failed at /secret/path/model.gguf"))
        client, _ = make(kb, embedder, llm)
        r = client.post("/v1/chat/completions", json=chat())
        assert_error(r, 503, "backend_error")
        assert "secret" not in r.text

    def test_error_while_streaming_is_an_error_event(self, kb: Path, embedder: Any) -> None:
        llm = FakeLLM(fail=RuntimeError("boom at /secret"))
        client, _ = make(kb, embedder, llm)
        with client.stream("POST", "/v1/chat/completions", json=chat(stream=True)) as r:
            got = events(r)
        assert r.status_code == 200 and got[-1] == "[DONE]"
        assert got[-2]["error"]["code"] == "internal_error"
        assert "secret" not in json.dumps(got)
        # the model's place is given back
        assert client.app.state.service.queue.active == 0  # type: ignore[attr-defined]

    def test_a_stream_left_early_frees_the_model_at_once(self, kb: Path,
                                                          embedder: Any) -> None:
        """A client that hangs up mid-answer: the model's generator is closed then, not
        when garbage is collected (llama.cpp's lock is held until it is)."""
        from ragkit.serve import completions

        llm = FakeLLM()
        rag = RAG(kb, embedder=embedder, llm=llm)
        svc = create_app(rag).state.service

        async def run() -> None:
            body = completions.ChatCompletionRequest.model_validate(chat(stream=True))
            response = await completions.chat_completions(svc, body)
            body_iter = response.body_iterator  # type: ignore[attr-defined]
            first = [await body_iter.__anext__() for _ in range(2)]  # role, first piece
            assert b'"content": "About "' in first[1]
            assert llm.running == 1 and svc.queue.active == 1
            await body_iter.aclose()  # what the server does when the client has gone
            assert llm.running == 0, "the model's generator is closed"
            assert svc.queue.active == 0

        asyncio.run(run())

    def test_unknown_route_and_method(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder)
        assert_error(client.get("/v2/nothing"), 404, "not_found")
        assert_error(client.delete("/v1/models"), 405, "method_not_allowed")
        r = client.post("/v1/chat/completions", content=b"{not json",
                        headers={"content-type": "application/json"})
        assert_error(r, 400, "invalid_request")


class TestAuth:
    def test_key_is_required_everywhere_but_health(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder, config=ServeConfig(api_key=KEY))
        assert client.get("/health").json() == {"status": "ok"}
        for method, path in [("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
                             ("POST", "/v1/retrieve"), ("GET", "/v1/documents"),
                             ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/openapi.json")]:
            r = client.request(method, path, json=chat())
            assert_error(r, 401, "invalid_api_key")
            assert r.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}x"})
        assert_error(wrong, 401, "invalid_api_key")
        basic = client.get("/v1/models", headers={"Authorization": f"Basic {KEY}"})
        assert_error(basic, 401, "invalid_api_key")
        ok = {"Authorization": f"Bearer {KEY}"}
        assert client.get("/v1/models", headers=ok).status_code == 200
        r = client.post("/v1/chat/completions", json=chat(), headers=ok)
        assert r.status_code == 200 and r.json()["ragkit"]["citations"]

    def test_key_is_compared_in_constant_time(self, kb: Path, embedder: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        import hmac

        from ragkit.serve import auth

        seen: list[tuple[bytes, bytes]] = []
        compare = hmac.compare_digest

        def spy(a: bytes, b: bytes) -> bool:
            seen.append((a, b))
            return compare(a, b)

        monkeypatch.setattr(auth.hmac, "compare_digest", spy)
        client, _ = make(kb, embedder, config=ServeConfig(api_key=KEY))
        client.get("/v1/models", headers={"Authorization": "Bearer guess"})
        assert seen == [(b"guess", KEY.encode())]

    def test_loopback(self) -> None:
        assert all(map(is_loopback, ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"]))
        assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "example.com"]))

    @pytest.mark.parametrize(("args", "env", "message"), [
        (["--host", "0.0.0.0"], {}, "needs an API key"),
        (["--host", "192.168.1.5"], {}, "RAGKIT_API_KEY"),
        (["--api-key", "short"], {}, "at least 16"),
        (["--host", "0.0.0.0"], {"RAGKIT_API_KEY": "short key with spaces"}, "at least 16"),
    ])
    def test_cli_refuses_to_serve_unguarded(self, tmp_path: Path, args: list[str],
                                            env: dict[str, str], message: str) -> None:
        from ragkit.cli import app

        result = CliRunner().invoke(app, ["serve", "--kb", str(tmp_path / "kb"), *args],
                                    env=env)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Error:" in result.output
        assert not (tmp_path / "kb").exists(), "refused before opening anything"


class TestLimits:
    def test_body_size_limit(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder, config=ServeConfig(max_body_bytes=2048))
        big = chat("llama " * 1000)
        assert_error(client.post("/v1/chat/completions", json=big), 413, "request_too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield json.dumps(big).encode()

        r = client.post("/v1/retrieve", content=chunks(),
                        headers={"content-type": "application/json"})
        assert_error(r, 413, "request_too_large")
        assert client.post("/v1/retrieve", json={"query": Q}).status_code == 200

    def test_upload_limit_is_the_setting(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder, upload_max_mb=0.01)
        files = {"file": ("big.md", b"# Big\n\n" + b"word " * 40_000, "text/markdown")}
        assert_error(client.post("/v1/documents", files=files), 413, "request_too_large")
        files = {"file": ("medium.md", b"# M\n\n" + b"word " * 2_200, "text/markdown")}
        r = client.post("/v1/documents", files=files)  # under the envelope, over the setting
        assert_error(r, 400, "validation_error")
        assert "upload limit" in r.json()["error"]["message"]

    def test_rate_limit_per_key(self, kb: Path, embedder: Any) -> None:
        config = ServeConfig(api_key=KEY, rate_per_minute=60, burst=3)
        client, _ = make(kb, embedder, config=config)
        ok = {"Authorization": f"Bearer {KEY}"}
        assert [client.get("/v1/models", headers=ok).status_code for _ in range(3)] == [200] * 3
        r = client.get("/v1/models", headers=ok)
        assert_error(r, 429, "rate_limit_exceeded")
        assert int(r.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200, "health is never limited"
        # guesses without the key spend the address's bucket, not the key's
        guesses = [client.get("/v1/models").status_code for _ in range(4)]
        assert guesses == [401, 401, 401, 429]

    def test_token_bucket_refills(self) -> None:
        limiter = RateLimiter(per_minute=60, burst=2)
        assert limiter.take("a", now=0.0) == 0.0 and limiter.take("a", now=0.0) == 0.0
        assert limiter.take("a", now=0.0) == pytest.approx(1.0)
        assert limiter.take("b", now=0.0) == 0.0, "buckets are per client"
        assert limiter.take("a", now=0.5) == pytest.approx(0.5)
        assert limiter.take("a", now=1.0) == 0.0


class TestGenerationQueue:
    def test_first_come_first_served_and_bounded(self) -> None:
        async def run() -> list[str]:
            q = GenerationQueue(slots=1, max_waiting=2)
            order: list[str] = []
            first = q.enter()
            tickets = {name: q.enter() for name in ("b", "c")}
            with pytest.raises(QueueFull) as full:
                q.enter()
            assert full.value.retry_after >= 1 and q.waiting == 2

            async def go(name: str) -> None:
                await tickets[name].turn()
                order.append(name)
                tickets[name].release()

            tasks = [asyncio.create_task(go(n)) for n in ("c", "b")]  # c asks first
            await asyncio.sleep(0.01)
            assert order == [] and q.active == 1
            first.release()
            await asyncio.gather(*tasks)
            assert q.active == 0 and q.waiting == 0
            return order

        assert asyncio.run(run()) == ["b", "c"], "served in order of arrival"

    def test_a_waiter_that_leaves_gives_its_place_back(self) -> None:
        async def run() -> None:
            q = GenerationQueue(slots=1, max_waiting=1)
            first = q.enter()
            second = q.enter()
            task = asyncio.create_task(second.turn())
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert q.waiting == 0
            third = q.enter()  # room again
            first.release()
            await third.turn()
            assert q.active == 1
            third.release()
            third.release()  # idempotent
            assert q.active == 0

        asyncio.run(run())

    def test_one_generation_at_a_time_retrieval_meanwhile_429_when_full(
            self, kb: Path, embedder: Any) -> None:
        gate = threading.Event()
        llm = FakeLLM(gate)
        rag = RAG(kb, embedder=embedder, llm=llm)
        app = create_app(rag, ServeConfig(queue_size=1))
        queue = app.state.service.queue

        async def run() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                first = asyncio.create_task(c.post("/v1/chat/completions", json=chat(Q)))
                await asyncio.to_thread(llm.entered.wait, 30)
                second = asyncio.create_task(c.post(
                    "/v1/chat/completions", json=chat("Where do llamas live?")))
                for _ in range(500):
                    await asyncio.sleep(0.01)
                    if queue.waiting == 1:
                        break
                assert queue.waiting == 1 and queue.active == 1
                full = await c.post("/v1/chat/completions", json=chat("And tea?"))
                assert_error(full, 429, "queue_full")
                assert int(full.headers["retry-after"]) >= 1
                found = await c.post("/v1/retrieve", json={"query": "tea", "k": 2})
                assert found.status_code == 200 and len(found.json()["hits"]) == 2
                metrics = (await c.get("/metrics")).text
                assert "ragkit_generation_queue_waiting 1" in metrics
                assert 'ragkit_rejected_total{reason="queue_full"} 1' in metrics
                gate.set()
                done = await asyncio.gather(first, second)
                assert [r.status_code for r in done] == [200, 200]
                assert "weigh" in done[0].json()["choices"][0]["message"]["content"]
                assert "live" in done[1].json()["choices"][0]["message"]["content"]

        asyncio.run(run())
        assert llm.most == 1 and len(llm.calls) == 2
        assert [m[-1]["content"] for m in llm.calls] == [Q, "Where do llamas live?"]
        assert queue.active == 0 and queue.waiting == 0


class TestRetrieveAndDocuments:
    def test_retrieve_is_the_cli_json_shape(self, kb: Path, embedder: Any) -> None:
        client, rag = make(kb, embedder)
        r = client.post("/v1/retrieve", json={"question": Q, "k": 3, "mode": "hybrid"})
        assert r.status_code == 200, r.text
        expected = rag.search(Q, k=3, mode="hybrid").to_dict()
        body = r.json()
        assert set(body) == set(expected) == {"hits", "mode", "timings"}
        assert [h["chunk_id"] for h in body["hits"]] == [h["chunk_id"] for h in expected["hits"]]
        assert body["hits"][0] | {"score": 0} == expected["hits"][0] | {"score": 0}
        r = client.post("/v1/retrieve", json={"query": Q, "filters": {"source": "*.pdf"}})
        assert {Path(h["source"]).suffix for h in r.json()["hits"]} == {".pdf"}
        assert_error(client.post("/v1/retrieve", json={"query": ""}), 400, "validation_error")
        assert_error(client.post("/v1/retrieve", json={"query": Q, "mode": "x"}), 400,
                     "invalid_request")

    def test_upload_list_retrieve_delete(self, kb: Path, embedder: Any) -> None:
        client, rag = make(kb, embedder)
        text = b"# Quokkas\n\nQuokkas live on Rottnest Island and weigh about 3 kg.\n"
        r = client.post("/v1/documents", files={"file": ("../../quokka.md", text)})
        assert r.status_code == 201, r.text
        doc = r.json()["document"]
        assert doc["name"] == "quokka.md" and doc["chunks"] >= 1
        assert Path(doc["source"]).parent == rag.documents_dir, "saved under a safe name"
        assert r.json()["ingest"]["files"]["ingested"] == 1
        listed = client.get("/v1/documents").json()["data"]
        assert doc in listed and len(listed) == len(rag.documents())
        hits = client.post("/v1/retrieve", json={"query": "Where do quokkas live?", "k": 1})
        assert hits.json()["hits"][0]["source"] == doc["source"]
        r = client.delete(f"/v1/documents/{doc['id']}")
        assert r.status_code == 200 and r.json()["deleted"] and r.json()["chunks"] >= 1
        assert not Path(doc["source"]).exists()
        assert doc["id"] not in {d["id"] for d in client.get("/v1/documents").json()["data"]}
        assert_error(client.delete(f"/v1/documents/{doc['id']}"), 404, "document_not_found")
        assert_error(client.delete("/v1/documents/not-a-sha256"), 400, "invalid_request")

    def test_upload_rules_as_in_the_ui(self, kb: Path, embedder: Any) -> None:
        client, rag = make(kb, embedder)
        r = client.post("/v1/documents", files={"file": ("run.exe", b"MZ\x90\x00")})
        assert_error(r, 400, "validation_error")
        assert "cannot be uploaded" in r.json()["error"]["message"]
        r = client.post("/v1/documents", files={"file": ("broken.docx", b"not a zip")})
        assert_error(r, 422, "ingest_failed")
        assert str(kb) not in r.text
        assert not (rag.documents_dir / "broken.docx").exists(), "a refused file is not kept"
        assert_error(client.post("/v1/documents"), 400, "invalid_request")


class TestMetricsAndDocs:
    def test_prometheus_text(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder)
        assert client.post("/v1/chat/completions", json=chat()).status_code == 200
        r = client.get("/metrics")
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = r.text
        assert ('ragkit_http_requests_total{method="POST",route="/v1/chat/completions",'
                'status="200"} 1') in text
        assert 'ragkit_tokens_total{kind="completion"} 10' in text
        assert 'ragkit_answers_total{how="generated"} 1' in text
        assert "# TYPE ragkit_http_request_duration_seconds histogram" in text
        assert 'ragkit_time_to_first_token_seconds_bucket{le="+Inf"} 1' in text
        assert 'ragkit_time_to_first_token_seconds_count 1' in text
        assert "ragkit_generation_queue_wait_seconds_count 1\n" in text
        for line in text.splitlines():  # every sample line is `name{labels} number`
            if line and not line.startswith("#"):
                float(line.rsplit(" ", 1)[1])

    def test_cache_hits_are_counted(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder, cache="exact")
        for _ in range(2):
            assert client.post("/v1/chat/completions", json=chat()).status_code == 200
        text = client.get("/metrics").text
        assert "ragkit_cache_hits_total 1" in text
        assert 'ragkit_answers_total{how="cached"} 1' in text

    def test_committed_openapi_is_current(self) -> None:
        committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
        assert openapi_document() == committed, (
            "regenerate: python -m ragkit.serve.openapi > docs/openapi.json")

    def test_docs_are_served(self, kb: Path, embedder: Any) -> None:
        client, _ = make(kb, embedder)
        assert "swagger" in client.get("/docs").text.lower()
        schema = client.get("/openapi.json").json()
        assert {"/v1/chat/completions", "/v1/models", "/v1/retrieve", "/v1/documents",
                "/v1/documents/{doc_id}", "/health", "/metrics"} <= set(schema["paths"])
