"""Starting a server process for a test and waiting for it (``ragkit serve``,
``python -m llama_cpp.server``): shared by tests/test_scale_out.py and
tests/test_serve_clients.py."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


@contextmanager
def server_process(cmd: list[str], log: Path, *, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None,
                   strict_stop: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` (its output into ``log``) and stop it on leaving; see :func:`stop`."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        stop(proc, strict=strict_stop)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float, *,
                  status: int | None = None) -> None:
    """Wait until ``url`` answers (with ``status``, when given); fail with the log's end if
    the process exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, timeout=2)
            if status is None or answer.status_code == status:  # None: any answer will do
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer in {seconds:.0f} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes], *, strict: bool = False) -> None:
    """SIGTERM, then SIGKILL after 60 s; with ``strict``, needing the kill fails the test."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        if strict:
            pytest.fail(f"{proc.args!r} did not stop on SIGTERM within 60 s")


def worker_setup(root: Path) -> tuple[dict[str, str], list[int], list[Path]]:
    """For two `ragkit serve` workers: an environment without RAGKIT_* settings, two
    different free ports and a log file for each."""
    from .test_chroma_server import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    return env, ports, [root / f"worker{i}.log" for i in range(2)]
