from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import NotFoundError
from ragkit._models import resolve_model


class TestResolveModel:
    def test_bundled_gguf_is_a_file(self) -> None:
        path = Path(resolve_model("bundled:SmolLM2-135M-Instruct"))
        assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 1e7

    def test_bundled_embedding_is_a_model_folder(self) -> None:
        path = Path(resolve_model("bundled:all-MiniLM-L6-v2"))
        assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()

    def test_unknown_bundled_name(self) -> None:
        with pytest.raises(NotFoundError, match="bundled:all-MiniLM-L6-v2"):
            resolve_model("bundled:gpt-9")

    def test_path_and_name_pass_through(self, tmp_path: Path) -> None:
        assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())
        assert resolve_model("sentence-transformers/foo") == "sentence-transformers/foo"
