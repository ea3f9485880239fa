"""Which floating-point type the embedding model runs in: the ``embedding_dtype`` setting.

``"auto"`` picks ``bfloat16`` when all of these hold, else ``float32``:

- the model runs on the CPU and the CPU computes bfloat16 natively (``avx512_bf16`` or
  ``amx_bf16`` among the flags of ``/proc/cpuinfo``; Linux only, elsewhere float32);
- the model is one whose retrieval quality was measured to hold in bfloat16
  (:data:`BF16_MEASURED`; bench/embed_dtype_bench.py, all-MiniLM-L6-v2 on 6,000 bench
  chunks: cosine to float32 >= 0.9997, top-10 overlap 0.985, nDCG@10 within 0.001, 1.9x
  the chunks/s on an AVX512-BF16 CPU).

The choice comes with its reason, for ``ragkit doctor`` and the logs.

>>> resolve_dtype("auto", model="bundled:all-MiniLM-L6-v2", flags={"avx512_bf16"})
('bfloat16', 'auto: the CPU has AVX512-BF16')
>>> resolve_dtype("auto", model="bundled:all-MiniLM-L6-v2", flags=set())[0]
'float32'
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DTYPES = ("float32", "bfloat16")
#: models whose quality in bfloat16 was measured to hold (see the module docstring)
BF16_MEASURED = frozenset({"bundled:all-MiniLM-L6-v2"})
#: CPU flags (``/proc/cpuinfo``) meaning native bfloat16 arithmetic, with their names
BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path | None = None) -> set[str]:
    """The CPU's feature flags (first ``flags`` line of ``cpuinfo``, default
    :data:`CPUINFO`); empty when unreadable (not Linux)."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def resolve_dtype(setting: str, *, model: str, device: str = "cpu",
                  flags: Iterable[str] | None = None) -> tuple[str, str]:
    """``(dtype, reason)`` for the ``embedding_dtype`` setting; ``flags`` default to this
    CPU's. Raises ValueError for an unknown setting."""
    if setting in DTYPES:
        return setting, "set by embedding_dtype"
    if setting != "auto":
        raise ValueError(f"embedding_dtype must be 'auto', 'float32' or 'bfloat16', "
                         f"not {setting!r}")
    if device != "cpu":
        return "float32", f"auto: device {device!r} (bfloat16 is chosen only on the CPU)"
    if model not in BF16_MEASURED:
        return "float32", (f"auto: {model!r} was not measured in bfloat16 (set "
                           "embedding_dtype = 'bfloat16' to use it)")
    have = set(cpu_flags() if flags is None else flags)
    native = [name for flag, name in BF16_FLAGS.items() if flag in have]
    if not native:
        return "float32", "auto: the CPU has no native bfloat16 (AMX-BF16 or AVX512-BF16)"
    return "bfloat16", f"auto: the CPU has {' and '.join(native)}"
