"""ragkit doctor: a copy of the sample knowledge base (real Chroma, the bundled embedding
model) checked healthy, broken in each way the doctor knows, repaired, and checked again;
the CLI through real subprocesses for its JSON contract and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ragkit import Check, Diagnosis, Settings, check_knowledge_base
from ragkit._lock import writer_lock
from ragkit._models import resolve_model
from ragkit._types import Chunk
from ragkit.backends.chroma import ChromaStore
from ragkit.doctor import _network

BIN = Path(sys.executable).parent
CHECKS = ["knowledge_base", "settings", "ingest_lock", "schema", "store", "orphans",
          "missing_chunks", "keyword_record", "embedding_files", "embedding_model", "llm_model",
          "telemetry", "network", "leftovers"]


@pytest.fixture
def kb(tmp_path: Path, sample_kb) -> Path:
    """A private copy of the sample knowledge base (the shared one stays intact)."""
    shutil.copytree(sample_kb.kb, tmp_path / "kb")
    return tmp_path / "kb"


def store(kb: Path) -> ChromaStore:
    return ChromaStore(kb / "chroma", collection="ragkit",
                       embedder_name="bundled:all-MiniLM-L6-v2", dimension=384)


def sql(kb: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(kb / "manifest.sqlite3") as db:
        db.execute(statement, params)
    db.close()


def rows(kb: Path) -> list[tuple[str, list[str]]]:
    with sqlite3.connect(kb / "manifest.sqlite3") as db:
        found = [(s, json.loads(ids)) for s, ids in
                 db.execute("SELECT source, chunk_ids FROM files ORDER BY source")]
    db.close()
    return found


def old(path: Path) -> None:
    """Make ``path`` look left behind long ago (older than STALE_AFTER)."""
    os.utime(path, (time.time() - 3600, time.time() - 3600))


def problems(d: Diagnosis) -> set[str]:
    return {c.name for c in d.checks if c.status == "problem"}


# -- ways to break a knowledge base, each with the checks that must name it ------------
def delete_row(kb: Path) -> None:
    sql(kb, "DELETE FROM files WHERE source = ?", rows(kb)[0][0])


def orphan_chunk(kb: Path) -> None:
    chunk = Chunk.from_metadata("orphan-1", "A chunk no manifest row claims.",
                                {"source": "/nowhere.md", "doc_id": "d", "start": 0, "end": 10})
    store(kb).add([chunk], [[0.05] * 384])


def delete_chunk(kb: Path) -> None:
    store(kb).delete([rows(kb)[0][1][0]])


def drop_keyword_rows(kb: Path) -> None:
    sql(kb, "DELETE FROM kw_chunks WHERE rowid IN (SELECT rowid FROM kw_chunks LIMIT 3)")


def tmp_folder(kb: Path) -> None:
    (kb / "bm25" / ".tmp-x").mkdir()
    old(kb / "bm25" / ".tmp-x")


def settings_tmp(kb: Path) -> None:
    (kb / "ragkit.toml.tmp").write_text("half a settings file")
    old(kb / "ragkit.toml.tmp")


BREAKS: dict[Callable[[Path], None], set[str]] = {
    delete_row: {"orphans", "keyword_record"},
    orphan_chunk: {"orphans"},
    delete_chunk: {"missing_chunks"},
    drop_keyword_rows: {"keyword_record"},
    tmp_folder: {"leftovers"},
    settings_tmp: {"leftovers"},
}


class TestHealthy:
    def test_sample_kb_all_ok(self, kb: Path, embedder) -> None:
        d = check_knowledge_base(kb, embedder=embedder)
        assert [c.name for c in d.checks] == CHECKS
        assert {c.status for c in d.checks} == {"ok"}, [c for c in d.checks if c.status != "ok"]
        assert d.healthy and not any(c.repaired for c in d.checks)
        assert "384-dim" in d.check("embedding_model").message
        assert d.to_dict()["checks"][0] == {"name": "knowledge_base", "status": "ok",
                                            "message": f"{kb} is a knowledge base", "fix": "",
                                            "repaired": False}

    def test_missing_folder_and_plain_folder(self, tmp_path: Path) -> None:
        gone = check_knowledge_base(tmp_path / "nope")
        plain = check_knowledge_base(tmp_path)
        for d, says in ((gone, "does not exist"), (plain, "is not a knowledge base")):
            assert not d.healthy and [c.name for c in d.checks] == ["knowledge_base"]
            assert says in d.checks[0].message and "ragkit-ingest" in d.checks[0].fix
        assert not (tmp_path / "nope").exists(), "the doctor creates nothing"

    def test_nothing_ingested_yet_is_a_warning(self, tmp_path: Path, embedder) -> None:
        (tmp_path / "ragkit.toml").write_text("# new\n")
        d = check_knowledge_base(tmp_path, embedder=embedder)
        assert d.healthy and d.check("schema").status == "warn"
        assert "store" not in {c.name for c in d.checks}
        assert not (tmp_path / "chroma").exists() and not (tmp_path / "manifest.sqlite3").exists()

    def test_check_validates_its_status(self) -> None:
        with pytest.raises(ValueError, match="status must be one of"):
            Check("x", "fine", "")  # type: ignore[arg-type]


class TestRepairable:
    @pytest.mark.parametrize("breaks", list(BREAKS), ids=lambda f: f.__name__)
    def test_found_repaired_then_healthy(self, kb: Path, embedder,
                                         breaks: Callable[[Path], None]) -> None:
        breaks(kb)
        found = check_knowledge_base(kb, embedder=embedder)
        assert not found.healthy and problems(found) == BREAKS[breaks]
        assert all(found.check(n).fix for n in BREAKS[breaks])
        fixed = check_knowledge_base(kb, embedder=embedder, repair=True)
        assert fixed.healthy and problems(fixed) == BREAKS[breaks]
        assert {c.name for c in fixed.checks if c.repaired} == BREAKS[breaks]
        again = check_knowledge_base(kb, embedder=embedder)
        assert {c.status for c in again.checks} == {"ok"}, again.to_dict()

    def test_young_temporary_files_are_left_alone(self, kb: Path, embedder) -> None:
        (kb / "bm25" / ".tmp-being-written").mkdir()
        d = check_knowledge_base(kb, embedder=embedder, repair=True)
        assert d.check("leftovers").status == "ok" and "being written" in d.check(
            "leftovers").message
        assert (kb / "bm25" / ".tmp-being-written").exists()

    def test_older_schema_is_migrated(self, kb: Path, embedder) -> None:
        sql(kb, "PRAGMA user_version = 0")
        d = check_knowledge_base(kb, embedder=embedder)
        assert d.healthy and d.check("schema").status == "warn"
        d = check_knowledge_base(kb, embedder=embedder, repair=True)
        assert d.check("schema").repaired
        assert check_knowledge_base(kb, embedder=embedder).check("schema").status == "ok"

    def test_an_ingest_running_downgrades_and_repairs_nothing(self, kb: Path, embedder) -> None:
        orphan_chunk(kb)
        with writer_lock(kb / "ingest.lock"):
            d = check_knowledge_base(kb, embedder=embedder, repair=True)
        assert d.healthy and d.check("ingest_lock").status == "warn"
        assert d.check("orphans").status == "warn" and not d.check("orphans").repaired
        assert problems(check_knowledge_base(kb, embedder=embedder)) == {"orphans"}


class TestNotRepairable:
    def test_newer_schema(self, kb: Path, embedder) -> None:
        sql(kb, "PRAGMA user_version = 99")
        d = check_knowledge_base(kb, embedder=embedder, repair=True)
        assert problems(d) == {"schema"} and not d.healthy
        assert "newer" in d.check("schema").message and "orphans" not in {
            c.name for c in d.checks}

    def test_other_embedding_model(self, kb: Path, tmp_path: Path) -> None:
        other = tmp_path / "other-model"
        other.symlink_to(resolve_model("bundled:all-MiniLM-L6-v2"), target_is_directory=True)
        (kb / "ragkit.toml").write_text(f'embedding_model = "{other}"\n')
        d = check_knowledge_base(kb, repair=True)
        assert problems(d) == {"embedding_model"} and not d.healthy
        check = d.check("embedding_model")
        assert "bundled:all-MiniLM-L6-v2" in check.message and str(other) in check.message
        assert "new folder" in check.fix and "embedding_model back" in check.fix

    @pytest.mark.parametrize(("content", "says"), [(b"", "empty"),
                                                   (b"PK\x03\x04 a zip", "does not start")])
    def test_llm_model_not_a_gguf(self, kb: Path, embedder, tmp_path: Path, content: bytes,
                                  says: str) -> None:
        (tmp_path / "model.gguf").write_bytes(content)
        (kb / "ragkit.toml").write_text(f'llm_model = "{tmp_path / "model.gguf"}"\n')
        d = check_knowledge_base(kb, embedder=embedder, repair=True)
        assert problems(d) == {"llm_model"} and says in d.check("llm_model").message

    def test_openai_url_shape_only(self, kb: Path, embedder) -> None:
        ok = check_knowledge_base(kb, embedder=embedder, settings=Settings(
            llm_backend="openai", openai_base_url="http://10.9.8.7:1/v1"))
        assert ok.check("llm_model").status == "ok" and "not contacted" in ok.check(
            "llm_model").message
        assert ok.check("network").status == "warn" and ok.healthy
        bad = check_knowledge_base(kb, embedder=embedder, settings=Settings(
            llm_backend="openai", openai_base_url="http://"))
        assert problems(bad) == {"llm_model"}

    def test_bad_settings_file(self, kb: Path) -> None:
        (kb / "ragkit.toml").write_text("passages = 'many'\n")
        d = check_knowledge_base(kb)
        assert problems(d) == {"settings"} and "ragkit.toml" in d.check("settings").fix


class TestEnvironment:
    def test_user_set_variable_is_a_warning(self, kb: Path, embedder,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("ANONYMIZED_TELEMETRY", "false")  # the same as "False"
        d = check_knowledge_base(kb, embedder=embedder)
        check = d.check("telemetry")
        assert check.status == "warn" and "HF_HUB_OFFLINE=0" in check.message
        assert "ANONYMIZED_TELEMETRY" not in check.message and d.healthy

    def test_unset_with_offline_env_off(self, kb: Path, embedder,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("DO_NOT_TRACK", raising=False)
        d = check_knowledge_base(kb, embedder=embedder, settings=Settings(offline_env=False))
        assert d.check("telemetry").status == "warn" and "DO_NOT_TRACK" in d.check(
            "telemetry").message

    def test_network(self) -> None:
        assert _network(Settings()).status == "ok"
        assert _network(Settings(chroma_url="http://127.0.0.1:8000")).status == "ok"
        far = _network(Settings(chroma_url="http://chroma.example:8000",
                                embedding_model="some-org/some-model"))
        assert far.status == "warn"
        assert "chroma_url" in far.message and "'some-org/some-model' is a name" in far.message


# -- the CLI ------------------------------------------------------------------------------
def doctor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    return subprocess.run([str(BIN / "ragkit"), "doctor", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


class TestCLI:
    def test_usage_error_exits_2(self, tmp_path: Path) -> None:
        assert doctor(cwd=tmp_path).returncode == 2

    def test_not_a_knowledge_base_exits_1(self, tmp_path: Path) -> None:
        out = doctor("--kb", str(tmp_path / "nope"), "--json", cwd=tmp_path)
        assert out.returncode == 1, out.stderr
        result = json.loads(out.stdout)
        assert result["healthy"] is False and result["checks"][0]["status"] == "problem"

    @pytest.mark.slow  # three runs, each loading the embedding model
    def test_json_contract_repair_and_exit_codes(self, kb: Path, tmp_path: Path) -> None:
        orphan_chunk(kb)
        drop_keyword_rows(kb)
        tmp_folder(kb)
        out = doctor("--kb", str(kb), "--json", cwd=tmp_path)
        assert out.returncode == 1, out.stderr
        result = json.loads(out.stdout)
        assert set(result) == {"kb", "healthy", "checks"} and result["kb"] == str(kb)
        assert result["healthy"] is False and [c["name"] for c in result["checks"]] == CHECKS
        for c in result["checks"]:
            assert set(c) == {"name", "status", "message", "fix", "repaired"}
            assert c["status"] in ("ok", "warn", "problem") and c["repaired"] is False
        assert {c["name"] for c in result["checks"] if c["status"] == "problem"} == {
            "orphans", "keyword_record", "leftovers"}

        out = doctor("--kb", str(kb), "--repair", "--json", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["healthy"] is True
        assert {c["name"] for c in result["checks"] if c["repaired"]} == {
            "orphans", "keyword_record", "leftovers"}

        out = doctor("--kb", str(kb), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "healthy" in out.stdout and "problem" not in out.stdout
