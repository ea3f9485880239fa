"""What Chroma does when the disk fills up: a collection on tmpfs mounts of several sizes is
filled with batches of 256 random 384-dim vectors until a write fails; then the mount is
grown and a fresh process opens the store, counts, queries, adds and deletes.

    sudo python bench/enospc_probe.py [SIZE ...]      (default sizes 2M 6M 9M 11M 14M 20M)

Needs root and ``unshare -m`` (each size runs in its own mount namespace). No model, no
ragkit: Chroma alone. Prints, per size, where the write failed, Chroma's error, and whether
the store works again once there is space (tests/test_faults.py has the ragkit side).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = r'''
import random, sys
import chromadb
from chromadb.config import Settings
path, mode = sys.argv[1], sys.argv[2]
client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
col = client.get_or_create_collection("probe", metadata={"hnsw:space": "cosine"})
rnd = random.Random(0)
def batch(start, n):
    ids = range(start, start + n)
    return dict(ids=[f"id{i}" for i in ids], documents=[f"text {i} " * 40 for i in ids],
                metadatas=[{"source": f"s{i}"} for i in ids],
                embeddings=[[rnd.random() for _ in range(384)] for _ in ids])
if mode == "fill":
    i = 0
    while True:
        try:
            col.upsert(**batch(i, 256)); i += 256
        except Exception as exc:
            print(f"write failed after {i} records: {type(exc).__name__}: {str(exc)[:160]}")
            break
else:
    try:
        n = col.count()
        col.query(query_embeddings=[[0.5] * 384], n_results=5)
        col.upsert(**batch(10**6, 256))
        col.delete(ids=[f"id{i}" for i in range(10**6, 10**6 + 256)])
        print(f"after growing the disk: works ({n} records; query, add, delete ok)")
    except Exception as exc:
        print(f"after growing the disk: BROKEN: {type(exc).__name__}: {str(exc)[:200]}")
'''


def main() -> None:
    sizes = sys.argv[1:] or ["2M", "6M", "9M", "11M", "14M", "20M"]
    py = shlex.quote(sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "probe.py"
        script.write_text(PROBE)
        mnt = Path(tmp) / "mnt"
        mnt.mkdir()
        for size in sizes:
            m, s = shlex.quote(str(mnt)), shlex.quote(str(script))
            out = subprocess.run(
                ["unshare", "-m", "sh", "-c",
                 f"mount -t tmpfs -o size={size} tmpfs {m} && {py} {s} {m}/c fill; "
                 f"mount -o remount,size=512M {m} && {py} {s} {m}/c check"],
                capture_output=True, text=True, timeout=900)
            said = [line for line in out.stdout.splitlines() if line.startswith(("write", "after"))]
            print(f"tmpfs {size}: " + " | ".join(said or [out.stderr.strip()[-300:]]))


if __name__ == "__main__":
    main()
