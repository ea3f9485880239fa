"""The same ingest and retrieval against a real Chroma server (`chroma run`) on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragkit import RAG, BackendError, Settings

from .conftest import SAMPLE_FILES

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("w")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(data / "db"), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (data / "server.log").read_text()
                time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start listening in 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
class TestChromaServer:
    def test_ingest_retrieve_reingest(self, chroma_url: str, tmp_path: Path, samples: Path,
                                      embedder) -> None:
        rag = RAG(tmp_path / "kb", settings=Settings(chroma_url=chroma_url), embedder=embedder)
        first = rag.ingest(samples)
        assert first.ok and len(first.ingested) == len(SAMPLE_FILES)
        assert rag.count() == first.chunks_added > 0
        hit = rag.retrieve("How many moons does Jupiter have?", k=1)[0]
        assert hit.chunk.source.endswith("solar_system.html")
        again = rag.ingest(samples)
        assert len(again.unchanged) == len(SAMPLE_FILES) and again.chunks_added == 0
        assert rag.count() == first.chunks_added

    def test_unreachable_server_is_a_clear_error(self, tmp_path: Path, embedder) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        rag = RAG(tmp_path / "kb", settings=Settings(chroma_url=url), embedder=embedder)
        with pytest.raises(BackendError, match="Chroma server"):
            rag.count()

    def test_url_is_validated(self) -> None:
        from ragkit import ConfigError

        with pytest.raises(ConfigError, match="chroma_url"):
            Settings.load(chroma_url="localhost:8000")
