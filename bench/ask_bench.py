"""Latency of ``RAG.ask``: its overhead over a bare llama-cpp-python completion of the same
prompt, and time to first token with the prompt prefix cached against a cold one.

    python bench/ask_bench.py [--repeats 3] [--cache-repeats 2] [--max-tokens 64]

Knowledge base: ``docs/samples`` ingested into a temporary folder; default settings (the
bundled model, hybrid retrieval, ``log_asks`` on) except ``max_tokens``.

1. Overhead. Per question, interleaved (the order flips every repeat): (A) ``rag.ask(q)``
   timed end to end (retrieval, prompt, generation, citations, ask log); (B) the messages A
   sent, given to the same ``llama_cpp.Llama`` object with the same sampling options,
   stream consumed. ``rag.llm.reset()`` before every timed call, so both evaluate the whole
   prompt. Per-question medians; overhead = sum of A medians / sum of B medians - 1.
   From B also the speed of the build in use (its flags are in the header): prompt tokens/s
   (tokens evaluated before the first streamed chunk / time to it, cold prompt) and
   generation tokens/s (tokens evaluated after it / time after it); medians over the calls.
2. Prefix cache. ``first_token_ms`` of ``rag.ask(q)`` cold (after ``reset()``) and warm
   (right after asking the previous question of the list, no reset; that one generates a
   single token, as only its prompt matters), for the default prompt and with 6 few-shot
   examples in the system message. "shared" = tokens the warm call found already evaluated
   (common prefix of ``rag.llm.cached_tokens`` before and after it); "unshared" = 1 -
   shared/tokens, the warm/cold to expect if prompt time is proportional to tokens evaluated.
3. The same question again ("regenerate": temperature 0.7, another seed), cold vs warm.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
import yaml

from ragkit import RAG
from ragkit.generation import GenerationOptions

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
EXAMPLES = [
    {"question": "When did the Eiffel Tower open?",
     "answer": "The Eiffel Tower opened in 1889, for the World's Fair [1]."},
    {"question": "How long is the Nile?", "answer": "The Nile is about 6,650 km long [2]."},
    {"question": "What do koalas eat?",
     "answer": "Koalas eat almost only eucalyptus leaves [1]."},
    {"question": "Who wrote the first computer program?",
     "answer": "Ada Lovelace wrote it, for Babbage's Analytical Engine [3]."},
    {"question": "What is the capital of Australia?",
     "answer": "The context does not say, so I do not know."},
    {"question": "珠穆朗玛峰有多高？", "answer": "珠穆朗玛峰海拔约八千八百四十九米 [1]。"},
]


def ms_since(t: float) -> float:
    return (time.perf_counter() - t) * 1000


def col(text: str, width: int = 46) -> str:
    """``text`` cut and padded to ``width`` columns (a Han character takes two)."""
    cols = [2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text]
    n = next((i for i in range(len(text)) if sum(cols[: i + 1]) > width), len(text))
    return text[:n] + " " * (width - sum(cols[:n]))


def clean(text: str) -> str:  # what ask does to the model's text
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def bare(rag: RAG, messages: list[dict[str, str]], speed: Speed) -> tuple[str, float]:
    """The same prompt and sampling options straight through llama-cpp-python: (text, ms).

    Adds to ``speed`` the prompt tokens per second (tokens evaluated before the first
    chunk / time to it; the prompt is cold) and the generation tokens per second after it.
    """
    o = GenerationOptions.from_settings(rag.settings)
    llama = rag.llm._llm  # type: ignore[attr-defined]
    t = time.perf_counter()
    out = llama.create_chat_completion(
        messages=messages, max_tokens=o.max_tokens, temperature=o.temperature, top_p=o.top_p,
        top_k=o.sampling_top_k, repeat_penalty=o.repeat_penalty,
        presence_penalty=o.presence_penalty, frequency_penalty=o.frequency_penalty,
        seed=o.seed, stop=list(o.stop), stream=True)
    pieces, first, n_first = [], 0.0, 0
    for c in out:
        if not pieces:
            first, n_first = time.perf_counter(), llama.n_tokens
        pieces.append(c["choices"][0]["delta"].get("content") or "")
    end, n_end = time.perf_counter(), llama.n_tokens
    speed.prompt.append(n_first / (first - t))
    if n_end > n_first:
        speed.generate.append((n_end - n_first) / (end - first))
    return "".join(pieces), (end - t) * 1000


@dataclass
class Speed:
    """Tokens per second of the bare completions: prompt evaluation and generation."""

    prompt: list[float] = field(default_factory=list)
    generate: list[float] = field(default_factory=list)


def overhead(rag: RAG, repeats: int) -> None:
    messages = {q: rag.ask(q).prompt.messages for q in QUESTIONS}  # warm-up, one per question
    speed = Speed()
    bare(rag, messages[QUESTIONS[0]], Speed())
    a_ms: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    b_ms: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    parts: dict[str, list[float]] = {"retrieve": [], "prompt": [], "outside": []}
    tokens, same, pairs = {}, {q: 0 for q in QUESTIONS}, 0
    for r in range(repeats):
        for q in QUESTIONS:
            for step in ("AB" if r % 2 == 0 else "BA"):
                rag.llm.reset()  # type: ignore[attr-defined]
                if step == "A":
                    t = time.perf_counter()
                    answer = rag.ask(q)
                    a_ms[q].append(ms_since(t))
                    assert answer.prompt.messages == messages[q], "prompt changed between runs"
                    tm = answer.timings
                    parts["retrieve"].append(tm["retrieve_ms"])
                    parts["prompt"].append(tm["prompt_ms"])
                    parts["outside"].append(a_ms[q][-1] - tm["generate_ms"])
                    tokens[q] = tm["prompt_tokens"]
                else:
                    text, ms = bare(rag, messages[q], speed)
                    b_ms[q].append(ms)
            same[q] += clean(text) == answer.text
            pairs += 1
    med = statistics.median
    print(f"\n1. ask vs bare completion of the same prompt (cold prompt each; medians of "
          f"{repeats})")
    print(f"  {col('question')} {'tokens':>6} {'ask ms':>7} {'bare ms':>7} {'over':>6}  same text")
    for q in QUESTIONS:
        a, b = med(a_ms[q]), med(b_ms[q])
        print(f"  {col(q)} {tokens[q]:6} {a:7.0f} {b:7.0f} {(a / b - 1) * 100:+5.1f}%  "
              f"{same[q]}/{repeats}")
    sa, sb = sum(med(a_ms[q]) for q in QUESTIONS), sum(med(b_ms[q]) for q in QUESTIONS)
    pct = (sa / sb - 1) * 100
    print(f"  sum of medians: ask {sa:.0f} ms, bare {sb:.0f} ms -> overhead {pct:+.1f} % "
          f"(target <= 5 %: {'met' if pct <= 5 else 'NOT met'})")
    outside = med(parts["outside"])
    print(f"  inside ask, median per call: retrieve {med(parts['retrieve']):.1f} ms, prompt "
          f"{med(parts['prompt']):.1f} ms; all of ask outside generation (wall - generate_ms) "
          f"{outside:.1f} ms = {outside / (sa / len(QUESTIONS)) * 100:.1f} % of a mean ask")
    paired = med([a / b - 1 for q in QUESTIONS for a, b in zip(a_ms[q], b_ms[q], strict=True)])
    print(f"  median of the {pairs} paired ratios ask/bare - 1: {paired * 100:+.1f} %; "
          f"identical text ask vs bare: {sum(same.values())}/{pairs} pairs")
    print(f"  bare completions, medians of {len(speed.prompt)}: prompt evaluation (cold, "
          f"{min(tokens.values())}-{max(tokens.values())} tokens) {med(speed.prompt):.0f} "
          f"tokens/s; generation {med(speed.generate):.1f} tokens/s")


def prefix_cache(rag: RAG, label: str, repeats: int) -> None:
    cold: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    warm: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    shared: dict[str, int] = {}
    sections: dict[str, dict[str, int]] = {}
    for r in range(repeats):
        for i, q in enumerate(QUESTIONS):
            for step in (("cold", "warm") if r % 2 == 0 else ("warm", "cold")):
                if step == "cold":
                    rag.llm.reset()  # type: ignore[attr-defined]
                    answer = rag.ask(q)
                    cold[q].append(answer.timings["first_token_ms"])
                else:
                    rag.ask(QUESTIONS[i - 1], generation={"max_tokens": 1})
                    before = rag.llm.cached_tokens  # type: ignore[attr-defined]
                    answer = rag.ask(q)
                    warm[q].append(answer.timings["first_token_ms"])
                    after = rag.llm.cached_tokens  # type: ignore[attr-defined]
                    shared[q] = len(os.path.commonprefix([before, after]))
                    sections[q] = {**answer.prompt.sections, "total": answer.prompt.tokens}
    med = statistics.median
    s0 = sections[QUESTIONS[0]]
    print(f"\n2{label}: system {s0['system']} tokens, few-shot {s0['few_shot']}; "
          f"first_token_ms, medians of {repeats}")
    print(f"  {col('question')} {'tokens':>6} {'passages':>8} {'shared':>6} {'cold':>6} "
          f"{'warm':>6} {'warm/cold':>9} {'unshared':>8}")
    for q in QUESTIONS:
        c, w, s = med(cold[q]), med(warm[q]), sections[q]
        print(f"  {col(q)} {s['total']:6} {s['passages']:8} {shared[q]:6} {c:6.0f} {w:6.0f} "
              f"{w / c:9.2f} {1 - shared[q] / s['total']:8.2f}")
    ratio = sum(med(warm[q]) for q in QUESTIONS) / sum(med(cold[q]) for q in QUESTIONS)
    share = sum(shared.values()) / sum(s["total"] for s in sections.values())
    print(f"  shared prefix = {share * 100:.0f} % of prompt tokens; warm/cold (sum of medians) "
          f"= {ratio:.2f} (target <= 0.5: {'met' if ratio <= 0.5 else 'NOT met'})")


def regenerate(rag: RAG, repeats: int) -> None:
    cold, warm = [], []
    for r in range(repeats):
        for q in QUESTIONS[:4]:
            gen = {"temperature": 0.7, "seed": 100 + r}
            rag.llm.reset()  # type: ignore[attr-defined]
            cold.append(rag.ask(q, generation=gen).timings["first_token_ms"])
            rag.ask(q, generation={"max_tokens": 1})
            warm.append(rag.ask(q, generation=gen).timings["first_token_ms"])
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"\n3. same question again (temperature 0.7, new seed), first 4 questions: first token "
          f"cold {c:.0f} ms, warm {w:.0f} ms, warm/cold {w / c:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=Path, default=Path("docs/samples"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache-repeats", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragkit-askbench-") as tmp:
        rag = RAG(tmp, max_tokens=args.max_tokens)
        report = rag.ingest(args.samples)
        llama = rag.llm._llm  # type: ignore[attr-defined]
        cpu = llama_cpp.llama_print_system_info().decode().strip()
        print(f"llama-cpp-python {llama_cpp.__version__}: {cpu}")
        print(f"{rag.settings.llm_model}: n_ctx {rag.llm.n_ctx}, threads {llama.n_threads} "
              f"(batch {llama.n_threads_batch}); {report.to_dict()['chunks']['total']} chunks "
              f"from {args.samples}; max_tokens {args.max_tokens}; log_asks "
              f"{rag.settings.log_asks}; {len(QUESTIONS)} questions; load average "
              f"{os.getloadavg()[0]:.2f}")
        opts = GenerationOptions.from_settings(rag.settings).to_dict()
        print("generation options (ask and bare): "
              + ", ".join(f"{k} {v}" for k, v in opts.items() if k != "max_tokens"))
        overhead(rag, args.repeats)
        prefix_cache(rag, "a. default prompt (prefix: system prompt)", args.cache_repeats)
        shots = Path(tmp) / "few_shot.yaml"
        shots.write_text(yaml.safe_dump(EXAMPLES, allow_unicode=True), encoding="utf-8")
        few = RAG(tmp, few_shot_file=str(shots), max_tokens=args.max_tokens,
                  embedder=rag.embedder, store=rag.store, llm=rag.llm)
        few.ask(QUESTIONS[0])  # warm-up: loads the examples
        prefix_cache(few, "b. 6 few-shot examples in the system message", args.cache_repeats)
        regenerate(rag, args.cache_repeats)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average (1, 5, 15 min) at the end: {load}")


if __name__ == "__main__":
    main()
