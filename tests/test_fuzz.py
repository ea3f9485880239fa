"""Parser fuzzing: random and mutated files of every supported type, batched into a few real
ingest runs. Every file must end ingested or reported (one line), nothing may escape as an
exception, and the good files beside them go in. The big run is bench/fuzz_bench.py."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragkit import RAG, Settings, check_knowledge_base
from ragkit.ingestion import convert
from ragkit.ingestion.parse import supported
from ragkit.storage import Manifest

from .conftest import SAMPLES
from .fuzzfiles import fuzzed, mutate_bytes, seeds

SEEDS = seeds()
#: a whole batch of files (parse, chunk, embed, store) must finish within this
RUN_SECONDS = 120


#: not fuzzed here: types read by external programs (LibreOffice, pandoc, Tesseract; their
#: failures and timeouts are tested in test_ocr_formats.py) and .msg (nothing here writes one)
NOT_FUZZED = {*convert.ROUTES, *convert.IMAGES, ".msg"}


def test_seeds_cover_every_supported_type() -> None:
    assert set(SEEDS) == set(supported()) - NOT_FUZZED


def _ingest_batch(files: dict[str, bytes], embedder) -> None:
    """Write ``files`` beside two good controls, ingest them, check the outcome."""
    work = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        docs = work / "docs"
        docs.mkdir()
        for name, data in files.items():
            (docs / name).write_bytes(data)
        for good in ("llamas.md", "coffee_notes.txt"):
            shutil.copy(SAMPLES / good, docs / f"control-{good}")
        rag = RAG(work / "kb", settings=Settings(workers=0), embedder=embedder)
        started = time.perf_counter()
        report = rag.ingest(docs)  # raises if anything escapes the per-file handling
        assert time.perf_counter() - started < RUN_SECONDS
        ingested = {Path(p).name for p in report.ingested}
        reported = {Path(f.path).name: f.error for f in report.failures}
        skipped = {Path(s.path).name for s in report.skipped}
        assert ingested | set(reported) | skipped == {p.name for p in docs.iterdir()}
        assert {"control-llamas.md", "control-coffee_notes.txt"} <= ingested
        for name, reason in reported.items():
            assert reason.strip() and "\n" not in reason and len(reason) < 400, (name, reason)
        manifest = Manifest(work / "kb" / "manifest.sqlite3")
        try:
            claimed = {c for r in manifest.records() for c in r.chunk_ids}
        finally:
            manifest.close()
        assert rag.store.ids() == claimed
    finally:
        shutil.rmtree(work, ignore_errors=True)


@st.composite
def fuzzed_files(draw: st.DrawFn) -> dict[str, bytes]:
    """A batch: a mutated file of every type, plus a few more of random types, and now and
    then pure random bytes (hypothesis's own) under a supported name."""
    rnd = draw(st.randoms(use_true_random=False))
    suffixes = sorted(SEEDS)
    names = list(suffixes) + [rnd.choice(suffixes) for _ in range(draw(st.integers(0, 15)))]
    out = {f"f{i:02d}{s}": fuzzed(s, SEEDS, rnd) for i, s in enumerate(names)}
    for i, (suffix, raw) in enumerate(draw(st.lists(
            st.tuples(st.sampled_from(suffixes), st.binary(min_size=1, max_size=2048)),
            max_size=3))):
        out[f"raw{i}{suffix}"] = raw
    return out


# unstructured warns when it guesses a text encoding (a mutated e-mail or HTML file): in an
# ingest that is a printed warning, not an error, so it must not become one here
@pytest.mark.filterwarnings("ignore::UserWarning:unstructured.file_utils.encoding")
@settings(max_examples=4, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=fuzzed_files())
def test_fuzzed_files_are_ingested_or_reported(files: dict[str, bytes], embedder) -> None:
    _ingest_batch(files, embedder)


def test_mutated_office_and_pdf_files(embedder) -> None:
    """A fixed-seed batch of the binary formats only, mutated many ways (byte edits and
    broken zip members), so every run of the suite covers them."""
    rnd = random.Random(14)
    files = {}
    for suffix in (".docx", ".pptx", ".xlsx", ".pdf", ".eml"):
        for i in range(4):
            files[f"m{i}{suffix}"] = fuzzed(suffix, SEEDS, rnd)
        files[f"flip{suffix}"] = mutate_bytes(SEEDS[suffix], rnd, rounds=1)
    _ingest_batch(files, embedder)


def test_the_knowledge_base_checks_out_after_a_fuzzed_run(tmp_path: Path, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    rnd = random.Random(7)
    for suffix in SEEDS:
        (docs / f"f{suffix}").write_bytes(fuzzed(suffix, SEEDS, rnd))
    RAG(tmp_path / "kb", settings=Settings(workers=0), embedder=embedder).ingest(docs)
    diagnosis = check_knowledge_base(tmp_path / "kb", embedder=embedder)
    assert diagnosis.healthy, [c for c in diagnosis.checks if c.status == "problem"]
