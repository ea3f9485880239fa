"""The Streamlit chat over a ragkit knowledge base. Started by ``ragkit ui --kb DIR``.

Thin: everything goes through :class:`ragkit.RAG`. Model output and document text are shown
with ``st.markdown``/``st.text`` (HTML escaped), never as raw HTML.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

from ragkit import RAG, Answer, RagkitError


def _kb_from_argv() -> Path:
    parser = argparse.ArgumentParser(prog="ragkit ui")
    parser.add_argument("--kb", required=True)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.kb)


@st.cache_resource(show_spinner="Loading the models…")
def _rag(kb: str) -> RAG:
    return RAG(kb)


def _sources(answer: Answer) -> None:
    if not answer.citations:
        return
    label = "Sources" if any(c.cited for c in answer.citations) else "Passages given (none cited)"
    st.caption(label)
    for c in answer.citations:
        where = f", page {c.page}" if c.page is not None else ""
        with st.expander(f"[{c.n}] {Path(c.source).name}{where}"):
            if c.section:
                st.caption(c.section)
            st.text(c.text)
            st.caption(c.source)
    t = answer.timings
    st.caption(
        f"first token {t.get('first_token_ms', 0):.0f} ms · total {t.get('total_ms', 0):.0f} ms"
    )


def main() -> None:
    st.set_page_config(page_title="ragkit chat", page_icon="📚")
    kb = _kb_from_argv()
    st.title("ragkit chat")
    try:
        rag = _rag(str(kb))
        count = rag.count()
    except RagkitError as exc:
        st.error(str(exc))
        return
    st.sidebar.markdown(f"**Knowledge base**  \n`{kb}`")
    st.sidebar.metric("chunks", count)
    if count == 0:
        st.info(f"The knowledge base is empty: run `ragkit-ingest DOCS --kb {kb}`.")

    history: list[Answer] = st.session_state.setdefault("history", [])
    for answer in history:
        with st.chat_message("user"):
            st.text(answer.question)
        with st.chat_message("assistant"):
            st.markdown(answer.text)
            _sources(answer)

    question = st.chat_input("Ask about your documents")
    if not question:
        return
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        try:
            stream = rag.stream(question)
            st.write_stream(stream)
            answer = stream.answer
        except RagkitError as exc:
            st.error(str(exc))
            return
        _sources(answer)
    history.append(answer)


main()
