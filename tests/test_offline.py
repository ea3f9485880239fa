"""Offline by construction: no downloads, no telemetry, unless the user asks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragkit._offline import OFFLINE_ENV, apply_offline_defaults
from ragkit.errors import ConfigError

SCOPE_PROBE = textwrap.dedent(
    """
    import json, os, sys
    before = dict(os.environ)
    import ragkit
    imported = dict(os.environ) == before
    from ragkit import RAG
    RAG(sys.argv[1] + "/a", offline_env=False)
    opted_out = dict(os.environ) == before
    RAG(sys.argv[1] + "/b")
    set_now = {k: os.environ.get(k) for k in ragkit.OFFLINE_ENV}
    print(json.dumps({"imported": imported, "opted_out": opted_out, "set": set_now}))
    """
)


class TestOfflineDefaults:
    def test_import_changes_nothing_a_rag_applies_them_unless_opted_out(
        self, tmp_path: Path
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
        env["DO_NOT_TRACK"] = "0"  # a user's own choice is kept
        out = subprocess.run([sys.executable, "-c", SCOPE_PROBE, str(tmp_path)], env=env,
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["imported"], "import ragkit must not change the environment"
        assert result["opted_out"], "offline_env=False must leave the environment alone"
        expected = OFFLINE_ENV | {"DO_NOT_TRACK": "0"}
        assert result["set"] == expected

    def test_user_choice_wins(self) -> None:
        env = {"ANONYMIZED_TELEMETRY": "True", "HF_HUB_OFFLINE": "0"}
        applied = apply_offline_defaults(env)
        assert env["ANONYMIZED_TELEMETRY"] == "True" and env["HF_HUB_OFFLINE"] == "0"
        assert "HF_HUB_OFFLINE" not in applied and env["DO_NOT_TRACK"] == "1"


class TestSpacyModel:
    def test_unstructured_uses_the_packaged_model_and_never_downloads(self) -> None:
        from unstructured.nlp import tokenize

        from ragkit.ingestion._spacy import SPACY_MODEL, use_bundled_spacy_model

        use_bundled_spacy_model()
        use_bundled_spacy_model()  # idempotent
        nlp = tokenize._get_nlp()
        assert nlp.meta["name"] in SPACY_MODEL  # "core_web_sm" inside the packaged name
        assert tokenize.sent_tokenize("Llamas live high. They eat grass.") == [
            "Llamas live high.", "They eat grass."
        ]
        # sentences from the light senter, not the dependency parser; tags still work for
        # unstructured's "contains a verb" test
        assert "parser" not in nlp.pipe_names and "senter" in nlp.pipe_names
        assert ("eat", "VBP") in tokenize.pos_tag("They eat grass.")
        with pytest.raises(ConfigError, match="download"):
            tokenize._install_spacy_model()


PROBE = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []
    real_connect = socket.socket.connect
    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            attempts.append(str(address))
            raise OSError("network disabled by the test")
        return real_connect(self, address)
    socket.socket.connect = connect
    real_gai = socket.getaddrinfo
    def gai(host, *a, **k):
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(f"dns:{host}")
        return real_gai(host, *a, **k)
    socket.getaddrinfo = gai

    from ragkit import RAG
    rag = RAG(sys.argv[1], max_tokens=8)
    report = rag.ingest(sys.argv[2])
    answer = rag.ask("How much does an adult llama weigh?")
    print(json.dumps({"attempts": attempts, "failed": len(report.failures),
                      "chunks": report.chunks_total, "citations": len(answer.citations)}))
    """
)


@pytest.mark.slow
def test_whole_flow_makes_no_network_call(tmp_path: Path, samples: Path) -> None:
    """Ingest and ask in a fresh process; any non-loopback connect or DNS lookup is recorded."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out = subprocess.run(
        [sys.executable, str(probe), str(tmp_path / "kb"), str(samples)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["failed"] == 0 and result["chunks"] > 0 and result["citations"] > 0
