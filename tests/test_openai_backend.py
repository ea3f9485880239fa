"""How the OpenAI-compatible backend reads the end of an answer, against a small fake server
on loopback (fast; the real llama-cpp-python server is in tests/test_generation.py and
tests/test_scale_out.py). Each path of the fake server is one way a stream can end,
including the one llama-cpp-python's server takes when another request interrupts a stream
(``--interrupt_requests`` left on): chunks without a finish_reason, then a bare ``[DONE]``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Generator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ragkit.backends.openai_compat import OpenAICompatibleLLM
from ragkit.errors import BackendError

MESSAGES = [{"role": "user", "content": "Where do llamas live?"}]
ROLE: dict[str, Any] = {"delta": {"role": "assistant"}, "finish_reason": None}


def _text(piece: str) -> dict[str, Any]:
    return {"delta": {"content": piece}, "finish_reason": None}


def _end(reason: str) -> dict[str, Any]:
    return {"delta": {}, "finish_reason": reason}


#: path -> (the choices of each chunk, whether ``data: [DONE]`` follows)
STREAMS: dict[str, tuple[list[dict[str, Any] | None], bool]] = {
    "stop": ([ROLE, _text("In the "), _text("Andes."), _end("stop")], True),
    "length": ([ROLE, _text("In the "), _text("An"), _end("length")], True),
    "interrupted": ([ROLE, _text("In the "), _text("An")], True),  # llama-cpp-python's cut
    "closed": ([ROLE, _text("In the ")], False),  # the connection ends, nothing more
    "terse": ([ROLE, _text("In the "), _text("Andes."), _end("stop")], False),
    "usage-last": ([ROLE, _text("Andes."), _end("stop"), None], True),  # choices: [] at the end
    "content-filter": ([ROLE, _text("In the "), _end("content_filter")], True),
    "tgi": ([ROLE, _text("Andes."), _end("eos_token")], True),
    "novel": ([ROLE, _text("Andes."), _end("all_done")], True),
}
#: path -> finish_reason of a whole (``complete_json``) completion
COMPLETIONS = {"json-stop": "stop", "json-length": "length", "json-none": None,
               "json-filter": "content_filter"}


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: each body ends when the connection closes (so a stream can just stop)."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        case = self.path.split("/")[1]
        if case in COMPLETIONS:
            self._send("application/json", json.dumps({"object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": '{"a": 1}'},
                 "finish_reason": COMPLETIONS[case]}]}))
            return
        chunks, done = STREAMS[case]
        events = [{"object": "chat.completion.chunk",
                   "choices": [] if choice is None else [{"index": 0, **choice}]}
                  for choice in chunks]
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
        self._send("text/event-stream", body + ("data: [DONE]\n\n" if done else ""))

    def _send(self, kind: str, body: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def llm(root: str, case: str) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(f"{root}/{case}/v1", timeout=10)


def answer(root: str, case: str) -> str:
    model = llm(root, case)
    try:
        return "".join(model.stream(MESSAGES, max_tokens=8))
    finally:
        model.close()


class TestStreamEnd:
    @pytest.mark.parametrize("case", ["stop", "terse", "usage-last", "tgi"])
    def test_a_finished_answer(self, fake_server: str, case: str) -> None:
        assert answer(fake_server, case).endswith("Andes.")

    def test_length_is_the_max_tokens_cut_and_the_text_stands(self, fake_server: str) -> None:
        assert answer(fake_server, "length") == "In the An"

    def test_a_stream_cut_by_another_request_is_an_error(self, fake_server: str) -> None:
        model = llm(fake_server, "interrupted")
        pieces = []
        with pytest.raises(BackendError) as err:
            for piece in model.stream(MESSAGES):
                pieces.append(piece)
        assert pieces == ["In the ", "An"]  # what came is passed on, then the error
        message = str(err.value)
        assert "\n" not in message and fake_server in message
        assert "ended the answer early (finish_reason=None)" in message
        assert "--interrupt_requests False" in message

    def test_a_stream_closed_without_done_or_reason_is_an_error(self, fake_server: str) -> None:
        with pytest.raises(BackendError, match=r"finish_reason=None, and no data: \[DONE\]"):
            answer(fake_server, "closed")

    def test_content_filter_is_an_error(self, fake_server: str) -> None:
        with pytest.raises(BackendError, match="withheld the rest of the answer"):
            answer(fake_server, "content-filter")

    def test_an_unknown_reason_is_taken_as_finished_with_one_warning(
            self, fake_server: str, caplog: pytest.LogCaptureFixture) -> None:
        model = llm(fake_server, "novel")
        with caplog.at_level(logging.WARNING, logger="ragkit.backends.openai_compat"):
            assert "".join(model.stream(MESSAGES)) == "Andes."
            assert "".join(model.stream(MESSAGES)) == "Andes."
        warned = [r for r in caplog.records if "all_done" in r.getMessage()]
        assert len(warned) == 1

    def test_a_client_that_stops_reading_gets_no_error(self, fake_server: str) -> None:
        stream = llm(fake_server, "interrupted").stream(MESSAGES)
        assert isinstance(stream, Generator)
        assert next(stream) == "In the "
        stream.close()  # the caller left: how the stream would have ended does not matter


class TestCompletionEnd:
    @pytest.mark.parametrize("case", ["json-stop", "json-length", "json-none"])
    def test_usable_ends(self, fake_server: str, case: str) -> None:
        assert llm(fake_server, case).complete_json(MESSAGES, {"type": "object"}) == '{"a": 1}'

    def test_content_filter_is_an_error(self, fake_server: str) -> None:
        with pytest.raises(BackendError, match="content_filter"):
            llm(fake_server, "json-filter").complete_json(MESSAGES, {"type": "object"})
