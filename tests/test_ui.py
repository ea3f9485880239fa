"""The Streamlit app through streamlit.testing.v1.AppTest, on the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit.cli import ui_script


@pytest.mark.slow
class TestChatApp:
    @pytest.fixture
    def app(self, sample_kb, monkeypatch: pytest.MonkeyPatch):
        from streamlit.testing.v1 import AppTest

        monkeypatch.setattr("sys.argv", ["app.py", "--kb", str(sample_kb.kb)])
        at = AppTest.from_file(str(ui_script()), default_timeout=300)
        return at.run()

    def test_empty_chat_shows_the_knowledge_base(self, app, sample_kb) -> None:
        assert not app.exception
        assert app.title[0].value == "ragkit chat"
        assert app.sidebar.metric[0].value == str(sample_kb.count())

    def test_question_gets_an_answer_with_sources(self, app) -> None:
        app.chat_input[0].set_value("How many moons does Jupiter have?").run()
        assert not app.exception
        assistant = [m for m in app.chat_message if m.name == "assistant"]
        assert len(assistant) == 1
        texts = [md.value for md in assistant[0].markdown]
        assert any(t.strip() for t in texts), "the streamed answer is shown"
        labels = [e.label for e in assistant[0].expander]
        assert labels and any("solar_system.html" in label for label in labels)

    def test_history_survives_a_rerun(self, app) -> None:
        app.chat_input[0].set_value("大熊猫每天花多少时间吃竹子？").run()
        app.run()
        users = [m for m in app.chat_message if m.name == "user"]
        assert [u.text[0].value for u in users] == ["大熊猫每天花多少时间吃竹子？"]


def test_ui_script_is_installed() -> None:
    assert ui_script().name == "app.py" and Path(ui_script()).is_file()
