"""Would an ONNX Runtime embedder (fp32 or dynamic int8) be faster at the same quality?

    python bench/onnx_embedding.py CORPUS_DIR [--texts N]

Needs `pip install onnx` beside ragkit (onnxruntime comes with chromadb). Exports the bundled
all-MiniLM-L6-v2 to ONNX with torch's exporter, quantizes a copy with ONNX Runtime's
dynamic int8 quantizer, then encodes the same N chunks of the corpus's .md and .txt files
(200 word pieces each) with sentence-transformers (the floor ragkit uses) and with each
ONNX model (mean pooling, L2 norm, batches of 64 sorted by length), all with 2 threads.

Prints, for each ONNX model: chunks/s and speed over sentence-transformers; cosine between
its vectors and sentence-transformers' (min and mean); for 100 queries (the first 12 words of
a chunk), the overlap of its top-10 with sentence-transformers' top-10, and how often the
chunk the query came from is in the top 10.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

import ragkit  # noqa: F401  (offline defaults)
from ragkit._models import resolve_model

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


class _Bert(torch.nn.Module):
    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids)
        return out.last_hidden_state


def export(model, folder: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
    enc = model.tokenizer(["a short text", "another somewhat longer text"], padding=True,
                          return_tensors="pt")
    torch.onnx.export(
        _Bert(model[0].auto_model.eval()), tuple(enc[k] for k in INPUTS), str(fp32),
        input_names=INPUTS, output_names=["last_hidden_state"],
        dynamic_axes={k: {0: "batch", 1: "seq"} for k in [*INPUTS, "last_hidden_state"]},
        opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def ort_encode(path: Path, tokenizer, texts: list[str], batch: int = 64):  # type: ignore[no-untyped-def]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    order = np.argsort([-len(t) for t in texts])
    out = np.zeros((len(texts), 384), dtype=np.float32)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        idx = order[i:i + batch]
        enc = tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=256,
                        return_tensors="np")
        hidden = session.run(None, {k: enc[k].astype(np.int64) for k in INPUTS})[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        vec = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
        out[idx] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--texts", type=int, default=800)
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    model = SentenceTransformer(resolve_model("bundled:all-MiniLM-L6-v2"), device="cpu",
                                local_files_only=True)
    tok = model.tokenizer
    files = sorted(p for p in args.corpus.rglob("*") if p.suffix in (".md", ".txt"))
    texts = []
    for f in files:
        ids = tok(f.read_text(errors="replace"), add_special_tokens=False,
                  verbose=False)["input_ids"]
        texts += [tok.decode(ids[i:i + 200]) for i in range(0, len(ids), 200)]
    random.Random(0).shuffle(texts)
    texts = texts[:args.texts]
    queries = [" ".join(t.split()[:12]) for t in texts[:100]]

    start = time.perf_counter()
    ref = model.encode(texts, batch_size=64, normalize_embeddings=True)
    st_s = time.perf_counter() - start
    ref_q = model.encode(queries, normalize_embeddings=True)
    ref_top = np.argsort(-(ref_q @ ref.T), 1)[:, :10]
    print(f"sentence-transformers (torch fp32): {len(texts)} chunks in {st_s:.1f} s = "
          f"{len(texts) / st_s:.1f} chunks/s; own chunk in top 10: "
          f"{np.mean([i in ref_top[i] for i in range(100)]):.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in export(model, Path(tmp)):
            vecs, secs = ort_encode(path, tok, texts)
            q, _ = ort_encode(path, tok, queries)
            top = np.argsort(-(q @ vecs.T), 1)[:, :10]
            cos = (vecs * ref).sum(1)
            pairs = zip(top, ref_top, strict=True)
            overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in pairs])
            own = np.mean([i in top[i] for i in range(100)])
            print(f"{path.name}: {len(texts) / secs:.1f} chunks/s = {st_s / secs:.2f}x; cosine "
                  f"to torch min {cos.min():.4f} mean {cos.mean():.4f}; top-10 overlap "
                  f"{overlap:.3f}; own chunk in top 10: {own:.2f}")


if __name__ == "__main__":
    main()
