"""docs/samples is exactly what scripts/make_samples.py writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, SAMPLE_FILES, SAMPLES


def test_samples_are_reproducible(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(tmp_path)],
                   check=True, capture_output=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == SAMPLE_FILES
    for name in SAMPLE_FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name
    assert {Path(n).suffix for n in SAMPLE_FILES} >= {".md", ".txt", ".html", ".docx", ".pdf"}
