"""Shared fixtures: the real models, loaded once per session; a hermetic environment."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import ragkit
from ragkit import RAG, Settings

# The test session owns its process, like the apps: offline defaults before any model loads
# (importing ragkit does not set them; see ragkit._offline).
ragkit.apply_offline_defaults()

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "docs" / "samples"
#: the sample documents (written by scripts/make_samples.py)
SAMPLE_FILES = sorted(p.name for p in SAMPLES.iterdir() if p.is_file())


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RAGKIT_* from the developer's shell; no ragkit.toml from the working directory."""
    for key in list(os.environ):
        if key.startswith("RAGKIT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of docs/samples (tests may change files in it)."""
    dst = tmp_path_factory.mktemp("samples") / "samples"
    dst.mkdir()
    for name in SAMPLE_FILES:
        shutil.copy2(SAMPLES / name, dst / name)
    return dst


@pytest.fixture(scope="session")
def embedder():
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def llm():
    from ragkit.backends.llama_cpp import LlamaCppLLM

    return LlamaCppLLM("bundled:SmolLM2-135M-Instruct", n_ctx=2048, seed=0)


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory: pytest.TempPathFactory, samples: Path, embedder, llm):
    """The samples ingested once into a knowledge base, with the real models."""
    kb = tmp_path_factory.mktemp("kb")
    rag = RAG(kb, settings=Settings(max_tokens=64), embedder=embedder, llm=llm)
    report = rag.ingest(samples)
    assert report.ok, report.failures
    return rag


def make_rag(kb: Path, embedder, llm=None, **overrides) -> RAG:
    return RAG(kb, settings=Settings(**overrides), embedder=embedder, llm=llm)
