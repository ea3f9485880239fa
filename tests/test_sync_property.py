"""Sync property (issue 14): random edits of a documents folder, ingests and SIGKILLed
ingests; after every completed ingest the knowledge base equals a clean ingest of the
folder. The machine and the fork server are in tests/sync_machine.py; bench/sync_bench.py
runs hundreds of sequences."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.sync_machine import Config, SyncEnv, SyncMachine, render


def machine_settings(examples: int, steps: int) -> settings:
    """Reproducible in CI: the same sequences on every run (no example database)."""
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def sync_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncEnv]:
    env = SyncEnv(tmp_path_factory.mktemp("sync"))
    yield env
    env.close()


def run_machine(env: SyncEnv, config: Config, examples: int, steps: int) -> None:
    env.config = config
    SyncMachine.env = env
    run_state_machine_as_test(SyncMachine, settings=machine_settings(examples, steps))


def write(env: SyncEnv, files: dict[str, str]) -> None:
    for name, text in files.items():
        (env.docs / name).parent.mkdir(parents=True, exist_ok=True)
        (env.docs / name).write_text(text, encoding="utf-8")


def test_edits_ingests_and_kills_converge_on_a_clean_ingest(sync_env: SyncEnv) -> None:
    before = sync_env.stats.copy()
    run_machine(sync_env, Config(), examples=12, steps=8)
    ran = sync_env.stats - before
    print(dict(ran))
    # the property was exercised, not skipped: ingests compared, kills that hit a write
    assert ran["ingests"] >= 10 and ran["kills that landed"] >= 3, ran


def test_a_rerun_sweeps_the_stale_temporary_folder_of_a_killed_scorer_build(
    sync_env: SyncEnv,
) -> None:
    """SIGKILL after bm25s wrote the scorer into ``bm25/.tmp-*``, before its rename: the
    folder stays; once stale (backdated here) the next run's refresh removes it."""
    kb = sync_env.new_kb()
    write(sync_env, {"a.md": render("a.md", [["Bamboo grows fast after the spring rain."]])})
    assert sync_env.ingest_and_check(kb, ["a.md"]) == 0
    write(sync_env, {"a.md": render("a.md", [["大熊猫每天大部分时间都在吃竹子。"]])})
    assert sync_env.killed_ingest(kb, ("hook", 0, "after"), only="BM25.save")
    (leftover,) = (kb / "bm25").glob(".tmp-*")
    an_hour_ago = time.time() - 3600
    for path in [leftover, *leftover.rglob("*")]:
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert sync_env.ingest_and_check(kb, ["a.md"]) == 0


def test_emptying_the_folder_leaves_no_scorer_behind(sync_env: SyncEnv) -> None:
    """Found by the state machine: with an empty record no scorer was saved, so nothing
    pruned the last one (bm25/<epoch>-<gen> stayed)."""
    kb = sync_env.new_kb()
    write(sync_env, {"a.md": render("a.md", [["Bamboo grows fast after the spring rain."]])})
    sync_env.ingest_and_check(kb, ["a.md"])
    (sync_env.docs / "a.md").unlink()
    sync_env.ingest_and_check(kb, [])
    assert sorted(p.name for p in (kb / "bm25").iterdir()) == []


@pytest.mark.slow
def test_rename_change_delete_killed_at_every_write_then_rerun(sync_env: SyncEnv) -> None:
    """A deterministic sweep between two states of a folder (A: a, b, c; B: a renamed, b
    changed, c deleted), both ways: each run is SIGKILLed just after its n-th write (n =
    -1: before the first), for n = -1, 0, 1, … until runs outlive their last write; the
    next run must give the clean ingest's store. Whatever the order of the writes (the old
    one, or add new chunks → commit rows → delete stale chunks)."""
    kb = sync_env.new_kb()
    a = {name: render(name, [[f"Version one of {name}.", "大熊猫每天大部分时间都在吃竹子。"],
                             ["Keep the receipt; it is needed for every return."]])
         for name in ("a.txt", "b.md", "notes/c.md")}
    b_changed = a["b.md"] + "An edit: 退货须在三十天内办理。\n"
    write(sync_env, a)
    sync_env.ingest_and_check(kb, a)
    landed, n, finished = 0, -1, {"A to B": False, "B to A": False}
    while not all(finished.values()):
        kill = ("hook", 0, "before") if n < 0 else ("hook", n, "after")
        (sync_env.docs / "a.txt").rename(sync_env.docs / "notes/moved.md")
        write(sync_env, {"b.md": b_changed})
        (sync_env.docs / "notes/c.md").unlink()
        hit = sync_env.killed_ingest(kb, kill)
        finished["A to B"] |= not hit
        sync_env.ingest_and_check(kb, ["notes/moved.md", "b.md"])
        (sync_env.docs / "notes/moved.md").rename(sync_env.docs / "a.txt")
        write(sync_env, {"b.md": a["b.md"], "notes/c.md": a["notes/c.md"]})
        back = sync_env.killed_ingest(kb, kill)
        finished["B to A"] |= not back
        sync_env.ingest_and_check(kb, a)
        landed += hit + back
        n += 1
    print(f"sweep: kill points -1..{n - 1} both ways, {landed} kills landed")
    assert landed >= 12, landed


@pytest.mark.slow
def test_longer_sequences_with_the_parser_pool(sync_env: SyncEnv) -> None:
    """More and longer sequences; an ingest may parse in two worker processes when eight
    files or more changed."""
    before = sync_env.stats.copy()
    run_machine(sync_env, Config(workers=(0, 2)), examples=25, steps=12)
    ran = sync_env.stats - before
    print(dict(ran))
    assert ran["ingests"] >= 40 and ran["kills that landed"] >= 10, ran
