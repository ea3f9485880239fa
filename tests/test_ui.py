"""The Streamlit app's logic through streamlit.testing.v1.AppTest, on the real models and a
real knowledge base (the browser test is tests/test_ui_browser.py)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from ragkit import RAG, Document
from ragkit._lock import writer_lock
from ragkit.cli import ui_script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ui_kb(tmp_path_factory: pytest.TempPathFactory, samples: Path, embedder) -> Path:
    """A knowledge base of its own (the app writes chats, settings and deletes into it)."""
    kb = tmp_path_factory.mktemp("ui") / "kb"
    rag = RAG(kb, embedder=embedder)
    assert rag.ingest(samples).ok
    rag.add_documents([Document.from_text(
        "notes/alpaca.txt", "Alpaca care. <script>alert('x')</script> <img src=x "
        "onerror=alert(1)> Alpacas are shorn once a year, in spring.", title="Alpaca care")])
    return kb


def app_for(kb: Path, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr("sys.argv", ["app.py", "--kb", str(kb)])
    return AppTest.from_file(str(ui_script()), default_timeout=300).run()


def assistant_of(at):
    return [m for m in at.chat_message if m.name == "assistant"]


class TestChatPage:
    def test_empty_chat_shows_the_knowledge_base(self, ui_kb: Path, monkeypatch) -> None:
        at = app_for(ui_kb, monkeypatch)
        assert not at.exception
        assert at.title[0].value == "ragkit chat"
        assert at.sidebar.metric[0].value == str(RAG(ui_kb).count())

    def test_answer_with_sources_timings_prompt_and_history(self, ui_kb: Path,
                                                            monkeypatch) -> None:
        at = app_for(ui_kb, monkeypatch)
        at.chat_input[0].set_value("How many moons does Jupiter have?").run()
        assert not at.exception
        assistant = assistant_of(at)[-1]
        assert any(md.value.strip() for md in assistant.markdown), "the answer is shown"
        labels = [e.label for e in assistant.expander]
        assert any("solar_system.html" in label for label in labels)
        assert "Prompt sent" in labels
        assert any("first token" in c.value for c in assistant.caption)
        # a fresh browser session lists the chat and shows it again from SQLite
        again = app_for(ui_kb, monkeypatch)
        assert [u.text[0].value for u in again.chat_message if u.name == "user"] == [
            "How many moons does Jupiter have?"]
        sessions = [b.label for b in again.sidebar.button if b.label.startswith("▶")]
        assert sessions and "Jupiter" in sessions[0]
        again.sidebar.button(key="new_chat").click().run()
        assert not [m for m in again.chat_message if m.name == "user"]

    def test_unsupported_sentences_are_marked(self, ui_kb: Path, monkeypatch) -> None:
        """The bundled model names the wrong volcano: the page says the sentence is not
        supported by the passages, and the supported share."""
        at = app_for(ui_kb, monkeypatch)
        at.chat_input[0].set_value("Which is the largest active volcano on Earth?").run()
        assert not at.exception
        assistant = assistant_of(at)[-1]
        answer = assistant.markdown[0].value
        if "Mauna Loa" in answer:
            pytest.skip("the model answered right this time")
        assert any("factual sentences are supported" in c.value for c in assistant.caption)
        assert any(md.value.startswith("✗") for md in assistant.markdown)

    def test_html_in_documents_and_answers_is_text(self, ui_kb: Path, monkeypatch) -> None:
        at = app_for(ui_kb, monkeypatch)
        at.chat_input[0].set_value("How often are alpacas shorn?").run()
        assistant = assistant_of(at)[-1]
        alpaca = [e for e in assistant.expander if "alpaca.txt" in e.label]
        assert alpaca, [e.label for e in assistant.expander]
        shown = " ".join(t.value for t in alpaca[0].text)
        assert "<script>alert('x')</script>" in shown and "onerror=alert(1)" in shown
        for md in assistant.markdown:
            assert "<script" not in md.value and "<img" not in md.value

    def test_chinese_question_and_answer(self, ui_kb: Path, monkeypatch) -> None:
        at = app_for(ui_kb, monkeypatch)
        at.chat_input[0].set_value("大熊猫每天花多少时间吃竹子？").run()
        assert [u.text[0].value for u in at.chat_message if u.name == "user"][-1] == \
            "大熊猫每天花多少时间吃竹子？"
        assistant = assistant_of(at)[-1]
        assert any("giant_panda_zh.md" in e.label for e in assistant.expander)


class TestSettingsAndDocuments:
    def test_settings_saved_to_the_knowledge_base(self, ui_kb: Path, monkeypatch) -> None:
        at = app_for(ui_kb, monkeypatch)
        at.sidebar.slider[0].set_value(0.4)
        mode = [s for s in at.sidebar.selectbox if s.label == "Retrieval mode"][0]
        mode.set_value("bm25")
        at.sidebar.toggle[1].set_value(True)
        [b for b in at.sidebar.button if b.label == "Save settings"][0].click().run()
        assert not at.exception
        saved = tomllib.loads((ui_kb / "ragkit.toml").read_text())
        assert saved["temperature"] == pytest.approx(0.4) and saved["retrieval_mode"] == "bm25"
        assert saved["tools"] == ["calculator", "search_kb"]
        (ui_kb / "ragkit.toml").unlink()

    def test_documents_listed_deleted_and_locked(self, ui_kb: Path, tmp_path: Path,
                                                 monkeypatch) -> None:
        kb = tmp_path / "kb"
        shutil.copytree(ui_kb, kb)
        at = app_for(kb, monkeypatch)
        at.sidebar.radio(key="page").set_value("Documents").run()
        assert at.title[0].value == "Documents"
        names = [t.value for t in at.text]
        assert "volcanoes.pdf" in names and "alpaca.txt" in names
        delete = at.button(key=[b.key for b in at.button if "volcanoes.pdf" in (b.key or "")][0])
        with writer_lock(kb / "ingest.lock"):  # another writer is busy: clear message, no harm
            delete.click().run()
            assert any("ingest is running" in w.value for w in at.warning)
        assert "volcanoes.pdf" in [Path(d.source).name for d in RAG(kb).documents()]
        at.button(key=delete.key).click().run()
        assert "volcanoes.pdf" not in [Path(d.source).name for d in RAG(kb).documents()]
        assert not RAG(kb).retrieve("Krakatoa eruption", k=5, filters={"source": "*.pdf"})


def test_create_and_pick_a_knowledge_base(tmp_path: Path, monkeypatch) -> None:
    first = tmp_path / "kbs" / "first"
    at = app_for(first, monkeypatch)
    at.sidebar.text_input(key="new_kb_name").set_value("../team notes")
    at.sidebar.button(key="create_kb").click().run()
    assert not at.exception
    created = tmp_path / "kbs" / "team notes"
    assert created.is_dir(), "created beside the first one, under a safe name"
    assert at.sidebar.selectbox(key="kb_picker").value == str(created)
    assert f"`{created}`" in [c.value for c in at.sidebar.caption]
    at.sidebar.selectbox(key="kb_picker").set_value(str(first)).run()
    assert f"`{first}`" in [c.value for c in at.sidebar.caption]
    assert "team notes" in at.sidebar.selectbox(key="kb_picker").options  # shown by name


def test_ui_script_is_installed() -> None:
    assert ui_script().name == "app.py" and Path(ui_script()).is_file()
