from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import ConfigError, Settings


class TestSettings:
    def test_defaults_are_valid_and_bundled(self) -> None:
        s = Settings.load()
        assert s.embedding_model == "bundled:all-MiniLM-L6-v2"
        assert s.llm_model == "bundled:SmolLM2-135M-Instruct"
        assert s.passages == 4 and s.chunk_size == 200

    def test_the_working_directory_is_read_only_when_asked(self, tmp_path: Path) -> None:
        (tmp_path / "ragkit.toml").write_text("passages = 2\n")  # tmp_path is the cwd here
        assert Settings.load().passages == 4, "the library alone never reads ./ragkit.toml"
        assert Settings.load(files=["ragkit.toml"]).passages == 2  # as the apps ask

    def test_old_name_top_k_still_read_with_a_warning(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "ragkit.toml").write_text("top_k = 3\n")
        with pytest.warns(DeprecationWarning, match="'top_k' is now 'passages'"):
            assert Settings.load(tmp_path).passages == 3
        with pytest.warns(DeprecationWarning, match="passages"):
            assert Settings(top_k=5).passages == 5
        (tmp_path / "ragkit.toml").unlink()
        monkeypatch.setenv("RAGKIT_TOP_K", "6")
        with pytest.warns(DeprecationWarning, match="passages"):
            assert Settings.load().passages == 6
        monkeypatch.setenv("RAGKIT_PASSAGES", "7")  # the new name wins
        assert Settings.load().passages == 7

    def test_precedence_cwd_kb_env_args(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "ragkit.toml").write_text("passages = 2\nchunk_size = 100\n"
                                              "max_tokens = 50\n")
        kb = tmp_path / "kb"
        kb.mkdir()
        (kb / "ragkit.toml").write_text("passages = 3\nchunk_size = 120\n")
        monkeypatch.setenv("RAGKIT_CHUNK_SIZE", "150")
        s = Settings.load(kb, files=["ragkit.toml"], max_tokens=99)
        assert s.passages == 3  # kb file over cwd file
        assert s.chunk_size == 150  # environment over files
        assert s.max_tokens == 99  # arguments over everything
        assert Settings.load(kb, passages=None).passages == 3  # None means "not given"

    def test_invalid_value_names_field_and_file(self, tmp_path: Path) -> None:
        (tmp_path / "ragkit.toml").write_text("passages = 0\n")
        with pytest.raises(ConfigError, match=r"passages.*ragkit.toml"):
            Settings.load(tmp_path)

    def test_unknown_key_is_an_error(self, tmp_path: Path) -> None:
        (tmp_path / "ragkit.toml").write_text("topk = 3\n")
        with pytest.raises(ConfigError, match="topk"):
            Settings.load(tmp_path)

    def test_bad_toml(self, tmp_path: Path) -> None:
        (tmp_path / "ragkit.toml").write_text("passages = \n")
        with pytest.raises(ConfigError, match="not valid TOML"):
            Settings.load(tmp_path)

    def test_env_invalid(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("RAGKIT_PASSAGES", "many")
        with pytest.raises(ConfigError, match="passages"):
            Settings.load()

    def test_max_tokens_must_leave_room(self) -> None:
        with pytest.raises(ConfigError, match="max_tokens"):
            Settings.load(n_ctx=512, max_tokens=512)

    def test_short_collection_name_rejected(self) -> None:
        with pytest.raises(ConfigError, match="collection"):
            Settings.load(collection="kb")

    def test_every_field_is_documented(self) -> None:
        doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
        for name, field in Settings.model_fields.items():
            assert field.description, f"{name} has no description"
            assert f"`{name}`" in doc, f"{name} missing from docs/configuration.md"
