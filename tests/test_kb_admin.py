"""Managing a knowledge base from an app: uploads (safe names, limits), the document list,
deleting a document, saving settings, and answering while another process ingests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from ragkit import RAG, ConfigError, LockedError, NotFoundError, Settings, ValidationError
from ragkit._lock import writer_lock
from ragkit.settings import save_settings
from ragkit.uploads import safe_filename, save_upload

ALLOWED = [".txt", ".md", ".pdf"]


class TestUploads:
    @pytest.mark.parametrize(("name", "safe"), [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("/abs/path/notes.md", "notes.md"),
        (".bashrc.txt", "bashrc.txt"),
        ("..", "upload"),
        ("", "upload"),
        ("a\x00b\nc.txt", "abc.txt"),
        ("报告 <script>.md", "报告 _script_.md"),
        ("CON.txt", "_CON.txt"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
    ])
    def test_safe_filename(self, name: str, safe: str) -> None:
        assert safe_filename(name) == safe

    def test_no_name_escapes_the_folder(self, tmp_path: Path) -> None:
        docs = tmp_path / "kb" / "documents"
        for name in ("../escape.txt", "../../escape.txt", "/tmp/escape.txt", "a/../../e.txt",
                     "..\\escape.txt", "./../x.txt"):
            path = save_upload(docs, name, b"data", allowed=ALLOWED, max_mb=1)
            assert path.parent == docs.resolve(), name
        assert not (tmp_path / "kb" / "escape.txt").exists()
        assert not list(tmp_path.glob("*.txt"))

    def test_type_size_and_duplicates(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="type .exe"):
            save_upload(tmp_path, "tool.exe", b"MZ", allowed=ALLOWED, max_mb=1)
        with pytest.raises(ValidationError, match="limit is 1 MB"):
            save_upload(tmp_path, "big.txt", b"x" * (1024 * 1024 + 1), allowed=ALLOWED,
                        max_mb=1)
        first = save_upload(tmp_path, "a.txt", b"one", allowed=ALLOWED, max_mb=1)
        assert save_upload(tmp_path, "a.txt", b"one", allowed=ALLOWED, max_mb=1) == first
        second = save_upload(tmp_path, "a.txt", b"two", allowed=ALLOWED, max_mb=1)
        assert second.name == "a (2).txt" and first.read_bytes() == b"one"
        assert not list(tmp_path.glob(".upload-*")), "no temporary file left behind"


class TestSaveSettings:
    def test_keeps_other_keys_validates_and_removes(self, tmp_path: Path) -> None:
        (tmp_path / "ragkit.toml").write_text('passages = 6\nexclude = ["drafts/*"]\n')
        s = save_settings(tmp_path, temperature=0.3, retrieval_mode="bm25",
                          tools=["calculator"], few_shot_file=None)
        assert (s.passages, s.temperature, s.retrieval_mode, s.tools) == (
            6, 0.3, "bm25", ["calculator"])
        data = tomllib.loads((tmp_path / "ragkit.toml").read_text())
        assert data["exclude"] == ["drafts/*"] and data["tools"] == ["calculator"]
        save_settings(tmp_path, passages=None)
        assert Settings.load(tmp_path).passages == 4
        before = (tmp_path / "ragkit.toml").read_text()
        with pytest.raises(ConfigError):
            save_settings(tmp_path, temperature=9.0)
        with pytest.raises(ConfigError, match="Unknown setting"):
            save_settings(tmp_path, temprature=0.1)
        assert (tmp_path / "ragkit.toml").read_text() == before, "nothing written on error"

    def test_old_name_in_the_file_is_rewritten_under_the_new_one(self, tmp_path: Path) -> None:
        (tmp_path / "ragkit.toml").write_text("top_k = 6\n")
        s = save_settings(tmp_path, temperature=0.2)
        assert s.passages == 6
        assert tomllib.loads((tmp_path / "ragkit.toml").read_text()) == {
            "passages": 6, "temperature": 0.2}


@pytest.mark.slow
class TestDocuments:
    def test_list_upload_ingest_delete(self, tmp_path: Path, sample_kb: RAG) -> None:
        kb = tmp_path / "kb"
        shutil.copytree(sample_kb.kb, kb)
        rag = RAG(kb, embedder=sample_kb.embedder, llm=sample_kb.llm)
        before = {Path(d.source).name: d.chunks for d in rag.documents()}
        assert before["volcanoes.pdf"] > 0 and len(before) == len(sample_kb.documents())
        path = rag.save_upload("../okapi.md", b"# Okapi\n\nThe okapi lives in the Ituri "
                               b"rainforest of Congo.\n")
        assert path == rag.documents_dir / "okapi.md"
        assert rag.ingest(path).ok
        hit = rag.retrieve("Where does the okapi live?", k=1)[0]
        assert hit.chunk.source == str(path)
        assert rag.delete_document(str(path)) > 0
        assert not path.exists(), "an uploaded file is deleted with its document"
        assert all("okapi" not in h.chunk.text.lower()
                   for h in rag.retrieve("okapi Ituri rainforest", k=5))
        pdf = next(d.source for d in rag.documents() if d.source.endswith(".pdf"))
        rag.delete_document(pdf)
        assert Path(pdf).exists(), "a file ingested from elsewhere is only forgotten"
        with pytest.raises(NotFoundError):
            rag.delete_document(pdf)
        with writer_lock(kb / "ingest.lock"), pytest.raises(LockedError):
            rag.delete_document(next(d.source for d in rag.documents()))

    def test_update_settings_reloads(self, tmp_path: Path, sample_kb: RAG) -> None:
        rag = RAG(tmp_path / "kb", embedder=sample_kb.embedder, llm=sample_kb.llm)
        llm = rag.llm
        rag.update_settings(passages=2, temperature=0.5)
        assert rag.settings.passages == 2 and rag.llm is llm, "the model is kept"
        assert RAG(tmp_path / "kb").settings.temperature == 0.5


@pytest.mark.slow
def test_app_answers_while_another_process_ingests(tmp_path: Path, sample_kb: RAG,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A `ragkit-ingest` in another process holds the writer lock; the UI still answers
    from the committed state and a second writer gets a clear message."""
    from streamlit.testing.v1 import AppTest

    from ragkit.cli import ui_script

    kb = tmp_path / "kb"
    shutil.copytree(sample_kb.kb, kb)
    more = tmp_path / "more"
    more.mkdir()
    for i in range(60):
        (more / f"note{i:02d}.txt").write_text(
            f"Note {i}. " + "Ferns grow in shady, damp forests. " * 40)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ragkit-ingest"), str(more),
                             "--kb", str(kb), "--quiet", "--workers", "0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the other process holds the lock
            try:
                with writer_lock(kb / "ingest.lock"):
                    pass
            except LockedError:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        monkeypatch.setattr("sys.argv", ["app.py", "--kb", str(kb)])
        at = AppTest.from_file(str(ui_script()), default_timeout=300).run()
        at.chat_input[0].set_value("How many moons does Jupiter have?").run()
        assert not at.exception
        answer = [m for m in at.chat_message if m.name == "assistant"][-1]
        assert any("solar_system.html" in e.label for e in answer.expander)
        assert proc.poll() is None, "the ingest was still running while the app answered"
        at.sidebar.radio(key="page").set_value("Documents").run()
        delete = [b for b in at.button if (b.key or "").startswith("del-")][0]
        delete.click().run()
        assert any("ingest is running" in w.value for w in at.warning)
    finally:
        assert proc.wait(timeout=600) == 0, proc.stderr.read() if proc.stderr else ""
    names = {Path(d.source).name for d in RAG(kb).documents()}
    assert "note59.txt" in names and "volcanoes.pdf" in names


@pytest.mark.slow
def test_parser_workers_start_after_the_app_ran(tmp_path: Path, embedder,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit (and AppTest) run the app as __main__; worker processes re-import the main
    module, which must not run the app (before the guard every worker died, every file
    failed)."""
    from streamlit.testing.v1 import AppTest

    from ragkit.cli import ui_script

    kb = tmp_path / "kb"
    with monkeypatch.context() as m:
        m.setattr("sys.argv", ["app.py", "--kb", str(kb)])
        assert not AppTest.from_file(str(ui_script()), default_timeout=300).run().exception
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(10):
        (docs / f"n{i}.md").write_text(f"# Note {i}\n\nMosses grow on north faces {i}.\n")
    report = RAG(kb, settings=Settings(workers=2), embedder=embedder).ingest(docs)
    assert report.ok and len(report.ingested) == 10, report.failures
