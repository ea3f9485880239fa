"""Per format: where ragkit's parse time goes, and whether a cheaper route keeps the same blocks.

What it measures, for each format of a corpus made by ``bench/make_corpus.py``:

1. ``parse_file(path, source=str(path), doc_id="x", languages=["eng", "zho"])`` wall time per
   file and per 100 KB of file bytes (median over rounds), default route;
2. the share of that time spent inside unstructured's text-type classifier
   (``is_possible_narrative_text`` / ``is_possible_title``, outermost calls only, timed by
   wrapping them in every unstructured module that imported them) and inside spaCy itself
   (``unstructured.nlp.tokenize._run_pipeline``), plus how many times each is called;
3. cheaper routes, each timed interleaved with the default one in the same run (default,
   route, default, route, ... over ``--rounds`` rounds; the token caches are cleared before
   every pass so each pass parses the format's files once, as an ingest does), and their
   blocks (text, kind, page, section) compared with the default route's, file by file.

Routes (``--routes``; ``default`` is always run):

``memo``
    the spaCy caches of ``unstructured.nlp.tokenize`` (``_process_cached``,
    ``_tokenize_for_cache``, ``word_tokenize``, ``pos_tag``; 128 entries each) replaced by
    unbounded ones. Identical output by construction.
``split``
    each spaCy view computed by the cheapest pipeline that gives it: ``word_tokenize`` by the
    tokenizer alone, ``pos_tag`` without the ``senter`` component, ``sent_tokenize`` by the
    full pipeline (as now). Expected identical (tokenization and tags do not depend on
    ``senter``); checked, not assumed.
``regex``
    ``sentence_count`` splits sentences with a regex instead of spaCy's senter (``pos_tag``
    and ``word_tokenize`` still use spaCy). May change kinds; counted.
``regex+split`` (any routes joined by ``+``)
    both at once: the regex for sentences, the tokenizer alone for words, the pipeline
    without ``senter`` for tags.
``narrative``
    no classifier at all: ``is_possible_narrative_text`` returns True and ``is_possible_title``
    False without looking at the text. May change kinds; counted.

Run (from the repository root, corpus made first)::

    .venv/bin/python bench/make_corpus.py /tmp/routes-corpus --files 120
    PYTHONPATH=. nice -n 5 .venv/bin/python bench/parse_routes_bench.py /tmp/routes-corpus \
        --routes memo,split,regex,regex+split,narrative --rounds 3 --check-sentences

(the notes ran it in three batches of ``--formats`` to keep each run to a few minutes).
``--cache-stats`` (cache hits of default vs memo) and ``--sentence-demo`` (spaCy vs regex
sentence counts on a few tricky sentences) print only that. ``--formats md,txt`` limits the
formats, ``--examples N`` prints N block differences per format and route, ``--profile``
prints the top of a cProfile of one default pass per format.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ragkit._offline import apply_offline_defaults

apply_offline_defaults()

from ragkit.errors import ParseError  # noqa: E402
from ragkit.ingestion._spacy import use_bundled_spacy_model  # noqa: E402
from ragkit.ingestion.parse import parse_file  # noqa: E402

use_bundled_spacy_model()

from unstructured.nlp import tokenize  # noqa: E402
from unstructured.partition import text_type  # noqa: E402

LANGUAGES = ["eng", "zho"]
ROUTES = ("memo", "split", "regex", "regex+split", "narrative")

# ---------------------------------------------------------------------------------------------
# corpus and parsing


def corpus_files(root: Path, formats: list[str] | None) -> dict[str, list[Path]]:
    by_fmt: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            by_fmt.setdefault(p.suffix.lower().lstrip("."), []).append(p)
    if formats:
        by_fmt = {f: by_fmt[f] for f in formats if f in by_fmt}
    return by_fmt


def load_all_modules(by_fmt: dict[str, list[Path]]) -> None:
    """Parse one file of each format so every unstructured module is imported (patching needs
    them in sys.modules) and spaCy is loaded."""
    for files in by_fmt.values():
        with contextlib.suppress(ParseError):
            parse_file(files[0], source=str(files[0]), doc_id="x", languages=LANGUAGES)


Key = tuple[tuple[str, str, Any, str], ...]


def parse_pass(files: list[Path]) -> tuple[float, list[Key | str]]:
    """Parse each file once; (total seconds, per file: its blocks or the error)."""
    out: list[Key | str] = []
    t0 = time.perf_counter()
    for p in files:
        try:
            doc = parse_file(p, source=str(p), doc_id="x", languages=LANGUAGES)
            out.append(tuple((b.text, b.kind, b.page, b.section) for b in doc.blocks))
        except ParseError as exc:
            out.append(f"ParseError: {exc}")
    return time.perf_counter() - t0, out


def clear_token_caches() -> None:
    for name in ("_process_cached", "_tokenize_for_cache", "word_tokenize", "pos_tag"):
        fn = getattr(tokenize, name)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()
    for fn in (text_type.sent_tokenize, text_type.word_tokenize, text_type.pos_tag):
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()


# ---------------------------------------------------------------------------------------------
# patching helpers


@contextlib.contextmanager
def patched(pairs: list[tuple[Any, str, Any]]) -> Iterator[None]:
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in pairs]
    try:
        for obj, name, value in pairs:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


def importers(original: Any) -> list[Any]:
    """Every loaded unstructured module holding ``original`` under its own name."""
    name = original.__name__
    return [
        m for n, m in list(sys.modules.items())
        if n.startswith("unstructured") and m is not None and getattr(m, name, None) is original
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# routes


def route_memo() -> contextlib.AbstractContextManager[None]:
    big_process = functools.lru_cache(maxsize=None)(tokenize._run_pipeline)
    big_sents = functools.lru_cache(maxsize=None)(tokenize._tokenize_for_cache.__wrapped__)
    big_words = functools.lru_cache(maxsize=None)(tokenize.word_tokenize.__wrapped__)
    big_tags = functools.lru_cache(maxsize=None)(tokenize.pos_tag.__wrapped__)
    pairs = [
        (tokenize, "_process_cached", big_process),
        (tokenize, "_tokenize_for_cache", big_sents),
        (tokenize, "word_tokenize", big_words),
        (tokenize, "pos_tag", big_tags),
        (text_type, "word_tokenize", big_words),
        (text_type, "pos_tag", big_tags),
    ]
    return patched(pairs)


def route_split() -> contextlib.AbstractContextManager[None]:
    nlp = tokenize._get_nlp()

    @functools.lru_cache(maxsize=tokenize.CACHE_MAX_SIZE)
    def word_tokenize(text: str) -> list[str]:
        return [t.text for t in nlp.make_doc(str(text)[: nlp.max_length])]

    @functools.lru_cache(maxsize=tokenize.CACHE_MAX_SIZE)
    def pos_tag(text: str) -> list[tuple[str, str]]:
        text = str(text)
        if len(text) > nlp.max_length:
            return tokenize.pos_tag.__wrapped__(text)
        doc = nlp(text, disable=["senter"])
        return [(t.text, t.tag_) for t in doc]

    return patched([(text_type, "word_tokenize", word_tokenize), (text_type, "pos_tag", pos_tag)])


# a sentence ends at . ! ? (plus closing quotes/brackets) followed by whitespace, or at a
# CJK full stop / exclamation / question mark
_SENT_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=[。！？])\s*")


@functools.lru_cache(maxsize=tokenize.CACHE_MAX_SIZE)
def _regex_sents(text: str) -> tuple[str, ...]:
    return tuple(s for s in _SENT_RE.split(str(text)) if s.strip())


def route_regex() -> contextlib.AbstractContextManager[None]:
    return patched([(text_type, "sent_tokenize", lambda text: list(_regex_sents(text)))])


def route_narrative() -> contextlib.AbstractContextManager[None]:
    def narrative(text: str, *a: Any, **k: Any) -> bool:
        return bool(text) and not text.isnumeric()

    def title(text: str, *a: Any, **k: Any) -> bool:
        return False

    pairs: list[tuple[Any, str, Any]] = []
    for orig, repl in (
        (text_type.is_possible_narrative_text, narrative),
        (text_type.is_possible_title, title),
    ):
        pairs += [(m, orig.__name__, repl) for m in importers(orig)]
    return patched(pairs)


_MAKERS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "default": contextlib.nullcontext,
    "memo": route_memo,
    "split": route_split,
    "regex": route_regex,
    "narrative": route_narrative,
}


@contextlib.contextmanager
def _combined(names: list[str]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for n in names:
            stack.enter_context(_MAKERS[n]())
        yield


class _Routes(dict):  # type: ignore[type-arg]
    """``ROUTE_MAKERS["regex+split"]``: both routes at once."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and all(n in _MAKERS for n in name.split("+"))

    def __getitem__(self, name: str) -> Callable[[], contextlib.AbstractContextManager[None]]:
        parts = name.split("+")
        return _MAKERS[name] if len(parts) == 1 else functools.partial(_combined, parts)


ROUTE_MAKERS = _Routes()


def check_sentence_counts(files: list[Path]) -> dict[str, int]:
    """One default pass in which every ``sentence_count`` call is also made with the regex
    splitter: how many counts differ, and how many differ on the side of the 2-sentence
    threshold that the classifier tests (``> 1`` / ``< 2``)."""
    orig = text_type.sentence_count
    stats = {"calls": 0, "count differs": 0, "threshold differs": 0}
    seen: list[tuple[str, int | None, int, int]] = []

    def both(text: str, min_length: int | None = None) -> int:
        a = orig(text, min_length)
        with route_regex():
            b = orig(text, min_length)
        stats["calls"] += 1
        stats["count differs"] += a != b
        if (a > 1) != (b > 1):
            stats["threshold differs"] += 1
            seen.append((text, min_length, a, b))
        return a

    clear_token_caches()
    with patched([(text_type, "sentence_count", both)]):
        parse_pass(files)
    for text, ml, a, b in seen[:3]:
        print(f"    sentence_count(min_length={ml}) spaCy {a} vs regex {b}: {text[:90]!r}")
    return stats


# ---------------------------------------------------------------------------------------------
# instrumentation: time in the classifier and in spaCy


class Meter:
    def __init__(self) -> None:
        self.depth = 0
        self.classify_s = 0.0
        self.spacy_s = 0.0
        self.calls: dict[str, int] = {}

    def wrap_outer(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*a: Any, **k: Any) -> Any:
            self.calls[fn.__name__] = self.calls.get(fn.__name__, 0) + 1
            if self.depth:
                return fn(*a, **k)
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.classify_s += time.perf_counter() - t0
                self.depth -= 1

        return run

    def wrap_spacy(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*a: Any, **k: Any) -> Any:
            self.calls["spacy_pipeline"] = self.calls.get("spacy_pipeline", 0) + 1
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.spacy_s += time.perf_counter() - t0

        return run

    def patches(self) -> list[tuple[Any, str, Any]]:
        pairs: list[tuple[Any, str, Any]] = []
        for orig in (text_type.is_possible_narrative_text, text_type.is_possible_title):
            pairs += [(m, orig.__name__, self.wrap_outer(orig)) for m in importers(orig)]
        # the cached wrapper and the uncached path both end in _run_pipeline
        spacy_run = self.wrap_spacy(tokenize._run_pipeline)
        pairs.append((tokenize, "_run_pipeline", spacy_run))
        pairs.append(
            (
                tokenize,
                "_process_cached",
                functools.lru_cache(maxsize=tokenize.CACHE_MAX_SIZE)(spacy_run),
            )
        )
        return pairs


# ---------------------------------------------------------------------------------------------
# main


def _diff_examples(
    name: str, files: list[Path], base: list[Any], other: list[Any], limit: int
) -> list[str]:
    lines: list[str] = []
    for p, a, b in zip(files, base, other, strict=False):
        if a == b or len(lines) >= limit:
            continue
        if isinstance(a, str) or isinstance(b, str) or len(a) != len(b):
            la = a if isinstance(a, str) else f"{len(a)} blocks"
            lb = b if isinstance(b, str) else f"{len(b)} blocks"
            lines.append(f"  [{name}] {p.name}: default {la} vs route {lb}")
            continue
        for x, y in zip(a, b, strict=False):
            if x != y and len(lines) < limit:
                fields = [
                    f
                    for f, u, v in zip(("text", "kind", "page", "section"), x, y, strict=False)
                    if u != v
                ]
                lines.append(
                    f"  [{name}] {p.name}: {'/'.join(fields)}: "
                    f"{x[1]} -> {y[1]}  text={x[0][:70]!r}"
                    + (f"  section {x[3][:40]!r} -> {y[3][:40]!r}" if "section" in fields else "")
                )
    return lines


def _block_changes(base: list[Any], other: list[Any]) -> tuple[int, int, int]:
    """(blocks compared, blocks that differ, kind changes to or from Title)."""
    n = diff = title = 0
    for a, b in zip(base, other, strict=False):
        if isinstance(a, str) or isinstance(b, str):
            continue
        n += len(a)
        if len(a) != len(b):
            diff += max(len(a), len(b))
            continue
        for x, y in zip(a, b, strict=False):
            if x != y:
                diff += 1
                title += (x[1] == "Title") != (y[1] == "Title")
    return n, diff, title


#: sentences where a regex splitter and spaCy's senter may disagree (for --sentence-demo)
DEMO_TEXTS = [
    "Dr. Smith reviewed the pump logs on Monday. The results were fine.",
    "The U.S. office uses e.g. the new form for all reports.",
    "Revenue grew 3.5 percent in Q2 vs. Q1 according to the finance team.",
    "See section 4.2. It lists the valves. Each valve is checked weekly by staff.",
    "ITEM 1A. RISK FACTORS",
    "Approx. 40 units were shipped to St. Louis last week by the operator.",
    'He said "stop the line." Then the crew went home early that night.',
    "Budget approved (see annex B.) and the survey will start in May next year.",
]


def sentence_demo() -> None:
    orig = text_type.sentence_count
    print("sentence_count(text, 3) / (text, 5): spaCy senter vs regex")
    for text in DEMO_TEXTS:
        a3, a5 = orig(text, 3), orig(text, 5)
        with route_regex():
            b3, b5 = orig(text, 3), orig(text, 5)
        mark = "" if (a3, a5) == (b3, b5) else "  <- differs"
        print(f"  spaCy {a3}/{a5} regex {b3}/{b5}{mark}  {text!r}")


def cache_stats(by_fmt: dict[str, list[Path]]) -> None:
    """Hits and misses of the spaCy Doc cache over one pass per format, default (128) and
    memo (unbounded) sizes."""
    print("spaCy Doc cache (_process_cached) over one pass: hits/misses")
    for fmt, files in by_fmt.items():
        row = []
        for r in ("default", "memo"):
            with ROUTE_MAKERS[r]():
                clear_token_caches()
                parse_pass(files)
                info = tokenize._process_cached.cache_info()
                row.append(f"{r} {info.hits}/{info.misses}")
        print(f"  {fmt:6} " + "   ".join(row))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="folder made by bench/make_corpus.py")
    ap.add_argument("--formats", default="", help="comma-separated suffixes (default: all)")
    ap.add_argument(
        "--routes",
        default=",".join(ROUTES),
        help=f"comma-separated, among {', '.join(ROUTES)} (default: all)",
    )
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per route")
    ap.add_argument(
        "--share-rounds",
        type=int,
        default=3,
        help="instrumented default passes for the classifier/spaCy share",
    )
    ap.add_argument("--examples", type=int, default=3, help="block differences shown")
    ap.add_argument(
        "--cache-stats",
        action="store_true",
        help="only print the spaCy cache hits of default and memo, then stop",
    )
    ap.add_argument(
        "--sentence-demo",
        action="store_true",
        help="only compare spaCy and regex sentence counts on a few tricky texts",
    )
    ap.add_argument(
        "--check-sentences",
        action="store_true",
        help="count sentence_count results that the regex splitter changes",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="print the top of a cProfile of one default pass per format",
    )
    args = ap.parse_args(argv)

    routes = [r for r in args.routes.split(",") if r and r != "default"]
    for r in routes:
        if r not in ROUTE_MAKERS:
            ap.error(f"unknown route {r!r}")
    by_fmt = corpus_files(args.corpus, [f for f in args.formats.split(",") if f] or None)
    if not by_fmt:
        ap.error(f"no files under {args.corpus}")
    load_all_modules(by_fmt)
    print(
        f"unstructured {__import__('unstructured.__version__').__version__.__version__}, "
        f"spaCy pipes {tokenize._get_nlp().pipe_names}, "
        f"tokenize.CACHE_MAX_SIZE={tokenize.CACHE_MAX_SIZE}, "
        f"MAX_CACHEABLE_CHARS={tokenize.MAX_CACHEABLE_CHARS}"
    )
    if args.sentence_demo:
        sentence_demo()
        return
    if args.cache_stats:
        cache_stats(by_fmt)
        return
    print(f"rounds={args.rounds} share_rounds={args.share_rounds} routes={routes}\n")

    share_rows = []
    route_rows = []
    examples: list[str] = []
    totals: dict[str, list[float]] = {"default": [], **{r: [] for r in routes}}
    for fmt, files in by_fmt.items():
        kb = sum(p.stat().st_size for p in files) / 1024
        # warm-up: one default pass (imports, lazy init of the partitioner, spaCy)
        clear_token_caches()
        parse_pass(files)

        # 1+2: default time, with the share in the classifier and in spaCy
        shares = []
        for _ in range(args.share_rounds):
            meter = Meter()
            clear_token_caches()
            with patched(meter.patches()):
                t, _res = parse_pass(files)
            shares.append((t, meter.classify_s, meter.spacy_s, dict(meter.calls)))
        calls = shares[0][3]
        share_rows.append(
            (
                fmt,
                len(files),
                kb,
                statistics.median(s[1] / s[0] for s in shares),
                statistics.median(s[2] / s[0] for s in shares),
                calls.get("is_possible_narrative_text", 0),
                calls.get("is_possible_title", 0),
                calls.get("spacy_pipeline", 0),
            )
        )
        if args.profile:
            prof = cProfile.Profile()
            clear_token_caches()
            prof.enable()
            parse_pass(files)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
            print(f"--- cProfile, default route, {fmt} ---")
            print("\n".join(buf.getvalue().splitlines()[:45]))

        if args.check_sentences:
            print(f"{fmt}: sentence_count spaCy vs regex: {check_sentence_counts(files)}")

        # 3: routes interleaved with default: D, R1, R2, ..., D, R1, R2, ... (order rotated)
        times: dict[str, list[float]] = {"default": [], **{r: [] for r in routes}}
        results: dict[str, list[Any]] = {}
        order = ["default", *routes]
        for i in range(args.rounds):
            rot = order[i % len(order) :] + order[: i % len(order)]
            for r in rot:
                with ROUTE_MAKERS[r]():
                    clear_token_caches()
                    t, res = parse_pass(files)
                times[r].append(t)
                if r in results and results[r] != res:
                    examples.append(f"  [{r}] {fmt}: output differs between rounds!")
                results[r] = res
        base = results["default"]
        med_d = statistics.median(times["default"])
        totals["default"].append(med_d)
        errors = sum(isinstance(x, str) for x in base)
        route_rows.append(
            (
                fmt,
                "default",
                med_d / len(files) * 1e3,
                med_d / kb * 100 * 1e3,
                1.0,
                len(files) - errors,
                0,
                0,
                0,
                errors,
            )
        )
        for r in routes:
            med = statistics.median(times[r])
            totals[r].append(med)
            # ratio: median of per-round ratios (each route pass next to the default pass)
            ratio = statistics.median(
                t / d for t, d in zip(times[r], times["default"], strict=False)
            )
            same = sum(a == b for a, b in zip(base, results[r], strict=False))
            n, diff, title = _block_changes(base, results[r])
            route_rows.append(
                (
                    fmt,
                    r,
                    med / len(files) * 1e3,
                    med / kb * 100 * 1e3,
                    ratio,
                    same,
                    len(files) - same,
                    diff,
                    title,
                    n,
                )
            )
            examples += _diff_examples(f"{r} {fmt}", files, base, results[r], args.examples)
        print(f"done {fmt} ({len(files)} files)", file=sys.stderr, flush=True)

    print("Default route: where the time goes (median of instrumented passes)")
    print(
        f"{'fmt':6} {'files':>5} {'KB':>7} {'classifier%':>11} {'spaCy%':>7} "
        f"{'narr calls':>10} {'title calls':>11} {'spaCy runs':>10}"
    )
    for fmt, n, kb, cls, sp, nc, tc, sc in share_rows:
        print(
            f"{fmt:6} {n:5d} {kb:7.0f} {cls * 100:10.1f}% {sp * 100:6.1f}% "
            f"{nc:10d} {tc:11d} {sc:10d}"
        )
    print()
    print("Routes, interleaved with default (median wall time of a pass over the format)")
    print(
        f"{'fmt':6} {'route':10} {'ms/file':>8} {'ms/100KB':>9} {'vs default':>10} "
        f"{'same files':>10} {'diff files':>10} {'diff blocks':>11} {'Title +/-':>9}"
    )
    for fmt, r, mpf, mpk, ratio, same, difff, diffb, title, extra in route_rows:
        if r == "default":
            print(
                f"{fmt:6} {r:10} {mpf:8.1f} {mpk:9.1f} {'1.00':>10} {'-':>10} {'-':>10} "
                f"{'-':>11} {'-':>9}" + (f"  ({extra} parse errors)" if extra else "")
            )
        else:
            print(
                f"{fmt:6} {r:10} {mpf:8.1f} {mpk:9.1f} {ratio:10.2f} {same:10d} "
                f"{difff:10d} {diffb:5d}/{extra:<5d} {title:9d}"
            )
    print()
    print("Whole corpus (sum over formats of the median pass times)")
    tot_d = sum(totals["default"])
    print(f"  default: {tot_d:.2f} s")
    for r in routes:
        print(f"  {r}: {sum(totals[r]):.2f} s ({(1 - sum(totals[r]) / tot_d) * 100:+.1f}% saved)")
    if examples:
        print("\nExample differences (default -> route)")
        print("\n".join(examples))


if __name__ == "__main__":
    main()
