"""Bad input gets a clear error, and nothing is lost: every good file beside it goes in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit import RAG, Settings

from .badfiles import BAD, write_bad_corpus
from .conftest import SAMPLE_FILES

BIN = Path(sys.executable).parent


def _no_dac_override() -> list[str]:
    """As root, drop the capability to read any file, so chmod 000 means unreadable."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory, samples: Path):
    root = tmp_path_factory.mktemp("bad")
    docs = root / "docs"
    shutil.copytree(samples, docs)
    write_bad_corpus(docs / "bad", huge_mb=60)
    (root / "kb").mkdir()
    (root / "kb" / "ragkit.toml").write_text("max_file_mb = 60\n")
    out = subprocess.run(
        [*_no_dac_override(), str(BIN / "ragkit-ingest"), str(docs), "--kb", str(root / "kb"),
         "--json"],
        capture_output=True, text=True, timeout=900, cwd=root, stdin=subprocess.DEVNULL,
    )
    return docs, out


@pytest.mark.slow
class TestBadInputCorpus:
    def test_exit_code_1_and_no_traceback(self, bad_run) -> None:
        _, out = bad_run
        assert out.returncode == 1, out.stderr[-2000:]
        assert "Traceback" not in out.stderr and "Traceback" not in out.stdout

    def test_each_bad_file_reported_with_path_and_one_line_reason(self, bad_run) -> None:
        docs, out = bad_run
        result = json.loads(out.stdout)
        failures = {Path(f["path"]).name: f["error"] for f in result["failures"]}
        assert set(failures) == set(BAD), failures
        for f in result["failures"]:
            assert Path(f["path"]).parent == docs / "bad"
            assert f["error"].strip() and "\n" not in f["error"] and len(f["error"]) < 400

    @pytest.mark.parametrize(
        ("name", "words"),
        [
            ("zero.txt", "empty"),
            ("encrypted.pdf", "encrypted"),
            ("invalid.txt", "UTF-8"),
            ("oneline.txt", "single line"),
            ("bomb.docx", "zip bomb"),
            ("loop.md", "symlink"),
            ("dangling.txt", "symlink"),
            ("unreadable.md", "Permission"),
            ("huge.txt", "max_file_mb"),
        ],
    )
    def test_reasons_say_what_is_wrong(self, bad_run, name: str, words: str) -> None:
        _, out = bad_run
        failures = {Path(f["path"]).name: f["error"] for f in json.loads(out.stdout)["failures"]}
        assert words.lower() in failures[name].lower(), failures[name]

    def test_every_good_file_is_ingested(self, bad_run) -> None:
        _, out = bad_run
        result = json.loads(out.stdout)
        assert result["files"]["ingested"] == len(SAMPLE_FILES)
        assert result["files"]["failed"] == len(BAD)
        assert result["chunks"]["added"] == result["chunks"]["total"] > 0


def test_file_deleted_during_the_run(tmp_path: Path, samples: Path, embedder,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A file found by discovery and gone before it is read is reported, the rest go in."""
    import ragkit.ingestion.pipeline as pipeline

    docs = tmp_path / "docs"
    shutil.copytree(samples, docs)
    victim = docs / "coffee_notes.txt"
    real = pipeline.discover

    def discover_then_delete(*args, **kwargs):
        found = real(*args, **kwargs)
        victim.unlink()
        return found

    monkeypatch.setattr(pipeline, "discover", discover_then_delete)
    report = RAG(tmp_path / "kb", settings=Settings(), embedder=embedder).ingest(docs)
    assert [(f.path, f.error) for f in report.failures] == [
        (str(victim), "file disappeared during the run")
    ]
    assert len(report.ingested) == len(SAMPLE_FILES) - 1
