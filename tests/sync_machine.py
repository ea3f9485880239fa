"""Property-based sync check, shared by tests/test_sync_property.py and bench/sync_bench.py.

A hypothesis state machine (the way Chroma tests its own API) adds, changes, renames and
deletes small text and Markdown files (English and Chinese) in a documents folder, ingests
the folder, and SIGKILLs ingests at chosen moments before an ingest runs again. After
every completed ingest the knowledge base must equal a clean ingest of the same folder
into a fresh knowledge base with the same settings:

- Chroma: every chunk id, its text and its metadata (source, doc_id, index, section, …);
- the keyword record (:class:`ragkit.storage.KeywordRecord`): chunk ids, source, text,
  terms;
- the manifest's rows: source → content hash, settings fingerprint, chunk ids;
- what searches find: the ids of a dense search for all chunks (Chroma's vector index
  against its records), the hits and scores of a BM25 search by a fresh reader (the scorer
  saved in ``bm25/`` against the record), whether that scorer is saved;

and the manifest must list exactly the files the model says are in the folder. Leftover
folders in ``bm25/`` are counted, not compared (see :func:`_searches`).

Every knowledge-base operation runs in a child forked from a server process that loaded
the embedding model once: like running ``ragkit-ingest`` again and again, without paying
for the model each time. The test process never opens Chroma, so no client it caches can
be stale after another process wrote. A kill is either a hook (the child SIGKILLs itself
just before or after its n-th write: a store ``add``/``delete``, a manifest ``put_many``/
``delete``/``sync_keyword``, the keyword ``refresh``) or a delay (the server SIGKILLs the
child that long after forking it). The clean ingest reads the very same folder (chunk ids
hash the absolute source path, so a copy elsewhere would get other ids); its state is
cached by the folder's contents.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
import pickle
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

ROOT = Path(__file__).resolve().parents[1]
#: small chunks and batches: several chunks per file, a write to the store every few chunks
SETTINGS: dict[str, Any] = {"chunk_size": 32, "chunk_overlap": 8, "ingest_batch": 4}
#: the writes a hook kill counts: (module, attribute path)
WRITES = (
    ("ragkit.backends.chroma", "ChromaStore.add"),
    ("ragkit.backends.chroma", "ChromaStore.delete"),
    ("ragkit.storage.embedding_cache", "EmbeddingCache._put"),
    ("ragkit.storage.manifest", "Manifest.put_many"),
    ("ragkit.storage.manifest", "Manifest.delete"),
    ("ragkit.storage.manifest", "Manifest.sync_keyword"),
    ("ragkit._rag", "refresh_keyword"),
    ("bm25s", "BM25.save"),  # inside the scorer's save, before its folder is renamed in
)
#: a child still running after this long is stuck (an ingest here takes about a second)
HANG_S = 300.0
#: what one knowledge base holds, in comparable form (see :func:`snapshot`)
Snapshot = dict[str, dict[str, Any]]


# -- in the forked child -------------------------------------------------------------------
def _open(kb: str, embedder: Any, workers: int) -> Any:
    from ragkit import RAG, Settings

    return RAG(kb, settings=Settings(**SETTINGS, workers=workers), embedder=embedder)


def snapshot(rag: Any, embedder: Any) -> Snapshot:
    """Chroma's chunks, the keyword record and the manifest's rows of ``rag``'s knowledge
    base, read afresh from disk; and what searches find there (:func:`_searches`)."""
    from ragkit.storage import KeywordRecord, Manifest

    store = rag.store
    chroma = {c.id: (c.text, json.dumps(c.metadata(), sort_keys=True, ensure_ascii=False))
              for c in store.get(sorted(store.ids()))}
    path = rag.knowledge_base.manifest_path
    record = KeywordRecord(path)
    try:
        terms = dict(record.terms())
        chunks = record.chunks(sorted(terms))
        keyword = {c.id: (c.source, c.text, terms[rowid]) for rowid, c in chunks.items()}
    finally:
        record.close()
    manifest = Manifest(path)
    try:
        rows = {r.source: (r.hash, r.fingerprint, tuple(r.chunk_ids)) for r in manifest.records()}
    finally:
        manifest.close()
    return {"chroma": chroma, "keyword": keyword, "manifest": rows,
            "searches": _searches(store, path, embedder, len(chroma))}


def _searches(store: Any, manifest: Path, embedder: Any, n: int) -> dict[str, Any]:
    """What the derived indexes give: the ids a dense search for all ``n`` chunks finds
    (Chroma's vector index against its records), the hits of a BM25 search by a fresh
    reader (the scorer saved in ``bm25/`` against the record), and the entries of
    ``bm25/`` (the current scorer, older ones, temporary folders left by a kill)."""
    from ragkit.retrieval.keyword import KeywordIndex
    from ragkit.storage import KeywordRecord

    dense = store.search(embedder.embed_query("panda bamboo 大熊猫 数据"), k=n) if n else []
    index = KeywordIndex(manifest)
    try:
        hits = index.search("panda receipt 大熊猫 数据 向量", k=max(n, 1))
    finally:
        index.close()
    record = KeywordRecord(manifest)
    try:
        current = record.version()
    finally:
        record.close()
    folder = manifest.parent / "bm25"
    entries = sorted("current" if p.name == current else "temporary" if p.name.startswith(".")
                     else "older" for p in (folder.iterdir() if folder.is_dir() else ()))
    # leftovers are not compared (harmless to searches), counted apart: a scorer build
    # killed before its rename leaves bm25/.tmp-*, which no ingest removes (`ragkit doctor
    # --repair` does; asserted by its own test); the scorer of an older generation stays
    # when the record becomes empty (no new scorer is saved, so nothing prunes it)
    leftovers = {kind: entries.count(kind) for kind in ("temporary", "older")}
    return {"dense ids": tuple(sorted(h.chunk.id for h in dense)),
            "keyword hits": tuple(sorted((h.chunk.id, round(h.score, 4)) for h in hits)),
            "bm25 scorer saved": "current" in entries, "bm25 leftovers (not compared)": leftovers}


def _ingest(req: dict[str, Any], embedder: Any) -> dict[str, Any]:
    rag = _open(req["kb"], embedder, req.get("workers", 0))
    started = time.perf_counter()
    report = rag.ingest(req["docs"])
    out: dict[str, Any] = {
        "ok": report.ok, "seconds": time.perf_counter() - started,
        "failures": [(f.source, f.reason) for f in report.failures],
        "workers": report.parse_workers, "notes": list(report.notes)}
    if req.get("snapshot"):
        out["snapshot"] = snapshot(rag, embedder)
    return out


def _kill_at(n: int, when: str, only: str = "") -> None:
    """SIGKILL this process just ``when`` ("before"/"after") its n-th write (from 0), or its
    n-th call of ``only`` (an attribute path of :data:`WRITES`)."""
    calls = itertools.count()

    def hooked(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            mine = next(calls)
            if mine == n and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = fn(*args, **kwargs)
            if mine == n and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return call

    for module, path in WRITES:
        if only and path != only:
            continue
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        setattr(owner, name, hooked(getattr(owner, name)))


def _child(req: dict[str, Any], embedder: Any) -> None:
    """Run one request and leave its result (or traceback) in ``req["out"]``; never returns."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # stdout is the server's answer channel
        if req.get("kill_at"):
            _kill_at(*req["kill_at"])
        result: Any = _ingest(req, embedder)
        code = 0
    except BaseException:  # noqa: BLE001 - reported to the test process
        result = {"error": traceback.format_exc()}
    try:
        Path(req["out"] + ".part").write_bytes(pickle.dumps(result))
        os.replace(req["out"] + ".part", req["out"])
    finally:
        os._exit(code)


def _reap(pid: int, kill_after: float | None) -> tuple[int, bool]:
    """Wait for the child; SIGKILL it ``kill_after`` seconds after it started if it still
    runs (or after HANG_S: then it hung). Returns its wait status and whether it hung."""
    deadline = time.monotonic() + (HANG_S if kill_after is None else kill_after)
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, False
        time.sleep(0.001 if kill_after is not None else 0.01)
    os.kill(pid, signal.SIGKILL)  # our own unreaped child: the pid cannot have been reused
    return os.waitpid(pid, 0)[1], kill_after is None


def _warm_up(folder: Path, embedder: Any) -> None:
    """Import and load what every child would (Chroma's and bm25s's modules, parsers,
    spaCy, jieba, settings, the model's first run), starting no thread: torch runs on one
    thread, so no thread pool exists when the server forks."""
    import bm25s  # noqa: F401 - with numba: seconds to import
    import chromadb.api.rust  # noqa: F401 - the embedded client's module, not a client
    import torch

    from ragkit import Settings
    from ragkit._terms import terms_of
    from ragkit.ingestion.parse import parse_file

    for name, text in (("w.md", "# 标题\n\nA panda. 大熊猫吃竹子。"), ("w.txt", "Hello there.")):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        parse_file(path, source=str(path), doc_id="0", languages=["eng", "zho"])
        terms_of(text)
        path.unlink()
    Settings(**SETTINGS)
    torch.set_num_threads(1)
    embedder.embed_documents(["warm up"])


def serve() -> None:
    """The fork server (started by :class:`ForkServer`): one JSON request a line on stdin;
    answers ``{"status": wait status}`` on stdout when the child is done."""
    import ragkit

    ragkit.apply_offline_defaults()
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")
    _warm_up(Path.cwd(), embedder)
    print("ready", flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req, embedder)
        status, hung = _reap(pid, req.get("kill_after"))
        print(json.dumps({"status": status, "hung": hung}), flush=True)


# -- in the test process --------------------------------------------------------------------
class ForkServer:
    """A process that loaded the embedding model once and forks a child per operation."""

    def __init__(self, work: Path) -> None:
        import ragkit

        self.work = work
        self.calls = 0
        self.log = (work / "server.log").open("w")
        path = [str(Path(ragkit.__file__).resolve().parents[1]), str(ROOT)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.sync_machine import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
            cwd=work, env=env)
        ready = self._line()
        if ready != "ready":
            raise RuntimeError(f"the fork server did not start ({ready!r}); see {self.log.name}")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def run(self, req: dict[str, Any]) -> dict[str, Any] | None:
        """Run ``req`` in a fresh child; its result, or None if the child was SIGKILLed."""
        assert self.proc.stdin is not None
        self.calls += 1
        out = self.work / f"result-{self.calls}.pickle"
        self.proc.stdin.write(json.dumps({**req, "out": str(out)}) + "\n")
        self.proc.stdin.flush()
        answer = self._line()
        if not answer:
            raise RuntimeError(f"the fork server died; see {self.log.name}")
        reply = json.loads(answer)
        if reply["hung"]:
            raise RuntimeError(f"{req['op']} hung for {HANG_S} s in the child")
        code = os.waitstatus_to_exitcode(reply["status"])
        result = pickle.loads(out.read_bytes()) if out.exists() else None
        out.unlink(missing_ok=True)
        if code == -signal.SIGKILL:
            return None
        if code != 0 or result is None:
            detail = result["error"] if result else f"exit code {code}"
            raise RuntimeError(f"{req['op']} failed in the child:\n{detail}")
        return dict(result)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def folder_key(docs: Path) -> str:
    """Hash of the folder's path and of every file's relative path and bytes."""
    h = hashlib.sha256(str(docs).encode())
    for path in sorted(p for p in docs.rglob("*") if p.is_file()):
        h.update(b"\0" + path.relative_to(docs).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def differences(actual: Snapshot, expected: Snapshot, limit: int = 12) -> list[str]:
    """What ``actual`` has that ``expected`` has not, and the other way round."""
    out = []
    for part in ("chroma", "keyword", "manifest", "searches"):
        have, want = actual[part], expected[part]
        for key in sorted(set(have) | set(want)):
            if have.get(key) != want.get(key):
                out.append(f"{part} {key}: got {have.get(key)!r:.160}, "
                           f"clean ingest has {want.get(key)!r:.160}")
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


@dataclass
class Config:
    """What the machine may do: parser workers an ingest may use (a pool starts only for
    8 files or more), and whether kills may come after a random delay (not reproducible,
    so only in the bench) besides the hooks."""

    workers: tuple[int, ...] = (0,)
    delays: bool = False


class SyncEnv:
    """The fork server, the folders, the cache of clean-ingest states, and counters."""

    def __init__(self, work: Path, config: Config | None = None) -> None:
        self.work = work
        self.config = config or Config()
        self.docs = work / "docs"
        self.server = ForkServer(work)
        self.clean_states: dict[str, Snapshot] = {}
        self.stats: Counter[str] = Counter()
        self.ingest_seconds: list[float] = [1.0]
        self.kbs = itertools.count()

    def new_kb(self) -> Path:
        shutil.rmtree(self.docs, ignore_errors=True)
        self.docs.mkdir()
        return self.work / f"kb-{next(self.kbs)}"

    def clean_state(self) -> Snapshot:
        key = folder_key(self.docs)
        if key not in self.clean_states:
            kb = self.work / "clean"
            shutil.rmtree(kb, ignore_errors=True)
            result = self.server.run({"op": "ingest", "kb": str(kb), "docs": str(self.docs),
                                      "snapshot": True})
            shutil.rmtree(kb)
            assert result is not None and result["ok"], result
            state = result["snapshot"]
            claimed = {c for _, _, ids in state["manifest"].values() for c in ids}
            assert set(state["chroma"]) == set(state["keyword"]) == claimed, "clean ingest"
            assert set(state["searches"]["dense ids"]) == claimed, "clean ingest"
            state["searches"].pop("bm25 leftovers (not compared)")
            self.clean_states[key] = state
            self.stats["clean ingests"] += 1
        return self.clean_states[key]

    def ingest_and_check(self, kb: Path, names: Iterable[str], workers: int = 0) -> int:
        """Ingest the folder into ``kb``, whose files are ``names`` (relative paths); the
        knowledge base must then equal a clean ingest of the folder. Returns the number of
        temporary folders left in ``bm25/`` (not compared: a known bug)."""
        result = self.server.run({"op": "ingest", "kb": str(kb), "docs": str(self.docs),
                                  "workers": workers, "snapshot": True})
        assert result is not None
        self.stats["ingests"] += 1
        self.stats["pooled ingests"] += result["workers"] > 0
        self.ingest_seconds.append(result["seconds"])
        assert result["ok"], result["failures"]
        actual = result["snapshot"]
        assert set(actual["manifest"]) == {str(self.docs / name) for name in names}
        leftovers = actual["searches"].pop("bm25 leftovers (not compared)")
        self.stats["ingests leaving bm25/.tmp-*"] += leftovers["temporary"] > 0
        self.stats["ingests leaving an older bm25 scorer"] += leftovers["older"] > 0
        problems = differences(actual, self.clean_state())
        assert not problems, "store differs from a clean ingest:\n" + "\n".join(problems)
        return int(leftovers["temporary"])

    def killed_ingest(self, kb: Path, kill: tuple[str, float | int, str],
                      only: str = "") -> bool:
        """An ingest SIGKILLed at ``kill``: ``("hook", n, "before" | "after")`` (n-th write,
        or n-th call of ``only``) or ``("delay", fraction, "")`` (that fraction of 1.5 typical
        ingests after the fork). True if the kill landed before the run finished."""
        req: dict[str, Any] = {"op": "ingest", "kb": str(kb), "docs": str(self.docs)}
        mode, at, when = kill
        if mode == "hook":
            req["kill_at"] = [at, when, only]
        else:
            req["kill_after"] = at * statistics.median(self.ingest_seconds[-20:]) * 1.5
        landed = self.server.run(req) is None
        self.stats["kills"] += 1
        self.stats["kills that landed"] += landed
        return landed

    def close(self) -> None:
        self.server.close()


# -- the state machine ----------------------------------------------------------------------
SENTENCES = (
    "The red panda sleeps in the trees for most of the day.",
    "Bamboo grows fast after the spring rain.",
    "A refund takes thirty days to reach the account.",
    "Keep the receipt; it is needed for every return.",
    "Chroma stores one vector for each chunk.",
    "The keyword index ranks chunks by their terms.",
    "大熊猫每天大部分时间都在吃竹子。",
    "退货须在三十天内办理，并出示收据。",
    "向量数据库为每个文本块保存一个向量。",
    "春雨过后，竹笋长得很快！",
    "关键词索引按词项为文本块排序；",
    "Mixed text: 熊猫 and pandas, 数据 and data.",
)
NAMES = ("a.txt", "b.md", "c.txt", "d.md", "e.txt", "笔记.md", "notes/f.md", "notes/g.txt",
         "notes/deep/h.md", "报告/i.txt", "j.md", "k.txt")
PARAGRAPHS = st.lists(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=4),
                      min_size=1, max_size=3)


def render(name: str, paragraphs: list[list[str]]) -> str:
    """A file's text: paragraphs of sentences; Markdown files get a heading over each."""
    parts = [" ".join(p) for p in paragraphs]
    if name.endswith(".md"):
        parts = [f"## Part {i}\n\n{text}" for i, text in enumerate(parts, 1)]
    return "\n\n".join(parts) + "\n"


class SyncMachine(RuleBasedStateMachine):
    """Edits of a documents folder, ingests and killed ingests; see the module doc."""

    env: ClassVar[SyncEnv]  # set by the test or the bench before running

    def __init__(self) -> None:
        super().__init__()
        self.kb = self.env.new_kb()
        self.files: dict[str, str] = {}  # the model: relative path → text
        self.unchecked = False  # an ingest was killed and none completed since
        self.env.stats["sequences"] += 1

    def _write(self, name: str, text: str) -> None:
        path = self.env.docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.files[name] = text

    def _pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.files)), label="file")

    def _count(self) -> None:
        self.env.stats["steps"] += 1

    @initialize(batch=st.lists(st.tuples(st.sampled_from(NAMES), PARAGRAPHS), max_size=4))
    def start(self, batch: list[tuple[str, list[list[str]]]]) -> None:
        for name, paragraphs in batch:
            self._write(name, render(name, paragraphs))

    @rule(name=st.sampled_from(NAMES), paragraphs=PARAGRAPHS)
    def write(self, name: str, paragraphs: list[list[str]]) -> None:
        """Add a file, or overwrite one."""
        self._count()
        self._write(name, render(name, paragraphs))

    @rule(paragraphs=PARAGRAPHS, many=st.integers(8, len(NAMES)))
    def write_many(self, paragraphs: list[list[str]], many: int) -> None:
        """Add or overwrite ``many`` files at once (8 or more: enough for parser workers)."""
        self._count()
        for i, name in enumerate(NAMES[:many]):
            self._write(name, render(name, paragraphs[i % len(paragraphs):] or paragraphs)
                        + f"File {i}.\n")

    @precondition(lambda self: bool(self.files))
    @rule(data=st.data(), sentence=st.sampled_from(SENTENCES))
    def append(self, data: st.DataObject, sentence: str) -> None:
        """A small change: one more sentence at the end."""
        self._count()
        name = self._pick(data)
        self._write(name, self.files[name] + sentence + "\n")

    @precondition(lambda self: 0 < len(self.files) < len(NAMES))
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        """Move a file to a free name (a new source; its old chunks must go)."""
        self._count()
        old = self._pick(data)
        new = data.draw(st.sampled_from([n for n in NAMES if n not in self.files]), label="to")
        (self.env.docs / new).parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.env.docs / old, self.env.docs / new)
        self.files[new] = self.files.pop(old)

    @precondition(lambda self: bool(self.files))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self._count()
        name = self._pick(data)
        (self.env.docs / name).unlink()
        del self.files[name]

    def _kill(self, data: st.DataObject) -> tuple[str, float | int, str]:
        hook = st.tuples(st.just("hook"), st.integers(0, 6), st.sampled_from(["before", "after"]))
        delay = st.tuples(st.just("delay"), st.floats(0.0, 1.0), st.just(""))
        return data.draw(st.one_of(hook, delay) if self.env.config.delays else hook,
                         label="kill")

    @rule(data=st.data())
    def ingest(self, data: st.DataObject) -> None:
        """Ingest the folder, after up to two SIGKILLed attempts; the store must then equal
        a clean ingest of it."""
        self._count()
        for _ in range(data.draw(st.integers(0, 2), label="kills first")):
            self.env.killed_ingest(self.kb, self._kill(data))
        workers = data.draw(st.sampled_from(self.env.config.workers), label="workers")
        self.env.ingest_and_check(self.kb, self.files, workers)
        self.unchecked = False

    @rule(data=st.data())
    def killed_ingest(self, data: st.DataObject) -> None:
        """An ingest SIGKILLed at a hook (just before or after its n-th write) or after a
        delay (a fraction of a typical ingest's time); more edits may follow before the
        next complete ingest checks the store."""
        self._count()
        self.unchecked |= self.env.killed_ingest(self.kb, self._kill(data))

    def teardown(self) -> None:
        try:
            if self.unchecked:  # every kill is followed by a checked re-run
                self.env.ingest_and_check(self.kb, self.files)
        finally:
            shutil.rmtree(self.kb, ignore_errors=True)
