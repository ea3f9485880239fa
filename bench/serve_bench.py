"""`ragkit serve` under concurrent load, against `RAG.ask` in process, in the same run.

    python bench/serve_bench.py [--clients 1 4 8] [--requests 8] [--max-tokens 32]
                                [--kb DIR] [--port 0]
    python bench/serve_bench.py --scale-out [--clients 1 4 8] [--requests 8] [--max-tokens 32]

Knowledge base: ``docs/samples`` ingested into a temporary folder (or ``--kb``), default
settings but ``max_tokens``. The server is ``ragkit serve`` started as a subprocess on
loopback (its own copy of the models; default queue and limits); clients are threads with
one ``httpx`` client each, streaming (``stream: true``). "direct" is the same questions through
``rag.stream`` in this process, from the same number of threads.

Per level of concurrency C: ``--requests`` questions (the list below, cycled) are shared
out among C clients, each sending its next one when the previous is done. TTFT = request
start to the first piece of answer text; latency = to the end of the answer (``[DONE]`` /
the stream's last piece); requests/s = requests / wall time of the level. At one client
the two paths alternate per question (which goes first flips each time), so load drift on
a shared machine hits both alike; "added" compares their summed latencies.

``--scale-out`` (docs/scale-out.md): one Chroma server (``chroma run``), one llama-cpp-python
server on the bundled GGUF (``--interrupt_requests False``, every CPU for generation, like
the in-process model) and 2 ``ragkit serve`` processes on one knowledge-base folder whose
settings point at both (``chroma_url``, ``llm_backend = "openai"``); client n talks to
worker n mod 2. "direct" is ``rag.stream`` in this process on the same two servers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ragkit import RAG

QUESTIONS = [
    "How many moons does Jupiter have?",
    "Where was coffee first cultivated?",
    "How heavy is an adult llama?",
    "大熊猫每天花多少时间吃竹子？",
    "长城有多长？",
    "How far away was the Krakatoa eruption heard?",
    "Who popularised tea at the English court?",
    "At what pressure is espresso brewed?",
]
Sample = tuple[float, float]  # (ttft s, latency s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def direct(rag: RAG, question: str) -> Sample:
    t = time.perf_counter()
    stream, first = rag.stream(question), 0.0
    for _ in stream:
        first = first or time.perf_counter() - t
    _ = stream.answer
    return first, time.perf_counter() - t


def served(client: httpx.Client, model: str, question: str) -> Sample:
    body = {"model": model, "stream": True,
            "messages": [{"role": "user", "content": question}]}
    t, first = time.perf_counter(), 0.0
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(chunk["error"])
            if not first and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter() - t
    return first, time.perf_counter() - t


def level(clients: int, requests: int, ask: Callable[[int, str], Sample]) -> tuple[
        list[Sample], float]:
    """``requests`` questions over ``clients`` threads; (samples, wall seconds)."""
    todo = list(range(requests))
    lock, out = threading.Lock(), []

    def worker(n: int) -> None:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            sample = ask(n, QUESTIONS[i % len(QUESTIONS)])
            with lock:
                out.append(sample)

    t = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out, time.perf_counter() - t


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))]


def row(clients: int, path: str, samples: list[Sample], wall: float) -> str:
    ttft = [s[0] * 1000 for s in samples]
    lat = [s[1] * 1000 for s in samples]
    return (f"| {clients} | {path} | {len(samples)} | {len(samples) / wall:.2f} | "
            f"{statistics.median(ttft):,.0f} | {pct(ttft, 95):,.0f} | "
            f"{statistics.median(lat):,.0f} | {pct(lat, 95):,.0f} |")


def start_server(kb: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGKIT_")}
    exe = Path(sys.executable).parent / "ragkit"
    proc = subprocess.Popen([str(exe), "serve", "--kb", str(kb), "--port", str(port),
                             "--log-level", "warning"], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env=env, cwd=kb)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(log.read_text()) from None
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("ragkit serve did not start in 300 s")


def one_client(rag: RAG, client: httpx.Client, model: str, requests: int) -> list[str]:
    """Paired, alternating runs at one client; the table rows and the added-latency line."""
    d: list[Sample] = []
    s: list[Sample] = []
    t_d = t_s = 0.0
    for i in range(requests):
        q = QUESTIONS[i % len(QUESTIONS)]
        order = [("d", lambda q=q: direct(rag, q)), ("s", lambda q=q: served(client, model, q))]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            (d if name == "d" else s).append(fn())
            if name == "d":
                t_d += time.perf_counter() - t
            else:
                t_s += time.perf_counter() - t
    added = sum(x[1] for x in s) / sum(x[1] for x in d) - 1
    added_ttft = sum(x[0] for x in s) / sum(x[0] for x in d) - 1
    return [row(1, "direct `RAG.stream`", d, t_d), row(1, "`ragkit serve` (HTTP, SSE)", s, t_s),
            f"\nAdded by the server at 1 client: latency {added:+.1%}, TTFT {added_ttft:+.1%} "
            f"(summed over {requests} paired questions)."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--requests", type=int, default=8, help="Requests per level and path.")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--kb", type=Path, help="An ingested knowledge base (default: samples).")
    ap.add_argument("--scale-out", action="store_true", help="2 workers on a Chroma server "
                    "and a llama-cpp-python server (docs/scale-out.md); ignores --kb.")
    args = ap.parse_args()
    if args.scale_out:
        scale_out(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    try:
        kb = args.kb or tmp / "kb"
        rag = RAG(kb, max_tokens=args.max_tokens)
        if args.kb is None:
            rag.ingest(Path(__file__).resolve().parents[1] / "docs" / "samples")
        (kb / "ragkit.toml").write_text(f"max_tokens = {args.max_tokens}\n", encoding="utf-8")
        rag.embedder, rag.store, rag.llm  # noqa: B018 - load before the clock
        port = free_port()
        proc = start_server(kb, port, tmp / "serve.log")
        try:
            run(rag, port, kb.resolve().name, args)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(rag: RAG, port: int, model: str, args: argparse.Namespace) -> None:
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
               for _ in range(max(args.clients))]
    served(clients[0], model, QUESTIONS[0])  # warm both models' prompt caches alike
    direct(rag, QUESTIONS[0])
    print(f"max_tokens {args.max_tokens}, {args.requests} requests per level and path, "
          f"{os.cpu_count()} CPUs\n")
    print("| clients | path | requests | req/s | TTFT p50 ms | TTFT p95 ms | latency p50 ms "
          "| latency p95 ms |\n|---|---|---|---|---|---|---|---|")
    for c in args.clients:
        if c == 1:
            lines = one_client(rag, clients[0], model, args.requests)
            print("\n".join(lines[:2]), flush=True)
            note = lines[2]
            continue
        samples, wall = level(c, args.requests, lambda n, q: direct(rag, q))
        print(row(c, "direct `RAG.stream`", samples, wall), flush=True)
        samples, wall = level(c, args.requests, lambda n, q: served(clients[n], model, q))
        print(row(c, "`ragkit serve` (HTTP, SSE)", samples, wall), flush=True)
    if 1 in args.clients:
        print(note)


# -- --scale-out: 2 workers on a Chroma server + an LLM server --------------------------------
def start_listening(cmd: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(log.read_text()) from None
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"{cmd[0]} did not answer at {url} in 300 s")


def scale_out(args: argparse.Namespace) -> None:
    from ragkit._models import resolve_model

    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-scale-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        bin_dir = Path(sys.executable).parent
        chroma, llama = free_port(), free_port()
        procs.append(start_listening(
            [str(bin_dir / "chroma"), "run", "--path", str(tmp / "chroma"), "--port",
             str(chroma)], f"http://127.0.0.1:{chroma}/api/v2/heartbeat", tmp / "chroma.log"))
        cpus = os.cpu_count() or 1
        procs.append(start_listening(
            [sys.executable, "-m", "llama_cpp.server", "--model",
             resolve_model("bundled:SmolLM2-135M-Instruct"), "--port", str(llama),
             "--n_ctx", "2048", "--n_threads", str(cpus if cpus <= 4 else cpus // 2),
             "--interrupt_requests", "False"],
            f"http://127.0.0.1:{llama}/v1/models", tmp / "llama.log"))
        kb = tmp / "kb"
        kb.mkdir()
        (kb / "ragkit.toml").write_text(
            f'chroma_url = "http://127.0.0.1:{chroma}"\nllm_backend = "openai"\n'
            f'openai_base_url = "http://127.0.0.1:{llama}/v1"\n'
            f"max_tokens = {args.max_tokens}\n", encoding="utf-8")
        rag = RAG(kb)
        rag.ingest(Path(__file__).resolve().parents[1] / "docs" / "samples")
        rag.embedder, rag.store, rag.llm  # noqa: B018 - load before the clock
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            procs.append(start_server(kb, port, tmp / f"worker{i}.log"))
        run_scale_out(rag, ports, kb.resolve().name, args)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def run_scale_out(rag: RAG, ports: list[int], model: str, args: argparse.Namespace) -> None:
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{ports[n % 2]}", timeout=600)
               for n in range(max(max(args.clients), 2))]
    for c in clients[:2]:
        served(c, model, QUESTIONS[0])  # warm each worker
    direct(rag, QUESTIONS[0])
    print(f"--scale-out: Chroma server + llama-cpp-python server + 2 `ragkit serve`; "
          f"max_tokens {args.max_tokens}, {args.requests} requests per level and path, "
          f"{os.cpu_count()} CPUs\n")
    print("| clients | path | requests | req/s | TTFT p50 ms | TTFT p95 ms | latency p50 ms "
          "| latency p95 ms |\n|---|---|---|---|---|---|---|---|")
    for c in args.clients:
        samples, wall = level(c, args.requests, lambda n, q: direct(rag, q))
        print(row(c, "direct `RAG.stream` (same servers)", samples, wall), flush=True)
        samples, wall = level(c, args.requests, lambda n, q: served(clients[n], model, q))
        print(row(c, "2 × `ragkit serve` (HTTP, SSE)", samples, wall), flush=True)


if __name__ == "__main__":
    main()
