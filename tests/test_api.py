"""The public API: what `import ragkit` offers, and the packaging around it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import ragkit


class TestExports:
    def test_all_is_sorted_and_complete(self) -> None:
        assert ragkit.__all__ == sorted(ragkit.__all__)
        public = {n for n in dir(ragkit) if not n.startswith("_") or n == "__version__"}
        modules = {n for n in public if type(getattr(ragkit, n)).__name__ == "module"}
        assert set(ragkit.__all__) == public - modules

    def test_every_error_has_a_code_and_one_root(self) -> None:
        errors = [getattr(ragkit, n) for n in ragkit.__all__ if n.endswith("Error")]
        assert all(issubclass(e, ragkit.RagkitError) for e in errors)
        assert len({e.code for e in errors}) == len(errors)


class TestPackaging:
    def test_cpu_torch_and_no_unstructured_inference(self) -> None:
        import torch

        assert torch.version.cuda is None
        assert importlib.util.find_spec("unstructured_inference") is None

    def test_apps_install_under_their_own_names(self, tmp_path: Path) -> None:
        """`ingest` and `ui` must not become top-level modules in site-packages."""
        code = (
            "import importlib.util as u, json;"
            "print(json.dumps([bool(u.find_spec(n)) for n in "
            "('ingest', 'ui', 'ragkit_ingest', 'ragkit_ui')]))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=tmp_path, check=True)
        assert out.stdout.strip() == "[false, false, true, true]"


def test_python_api_in_ten_lines(sample_kb) -> None:
    """The README's example, on the real models."""
    stream = sample_kb.stream("How much does an adult llama weigh?", k=2)
    text = "".join(stream)
    answer = stream.answer
    assert text.strip() == answer.text and answer.question.startswith("How much")
    assert len(answer.hits) == 2 and answer.hits[0].chunk.source.endswith("llamas.md")
