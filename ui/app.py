"""The Streamlit chat over ragkit knowledge bases. Started by ``ragkit ui --kb DIR``.

Thin: everything goes through :class:`ragkit.RAG` (chat sessions, the ask log and
feedback, documents, uploads, settings). Model output and document text are never
rendered as raw HTML: passages are shown with ``st.text``/``st.code``; answers go through
:func:`safe_markdown`, which escapes HTML and images before ``st.markdown``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import streamlit as st

import ragkit
from ragkit import (
    RAG,
    RETRIEVAL_MODES,
    Answer,
    KnowledgeBase,
    LockedError,
    Progress,
    RagkitError,
    new_session_id,
    safe_markdown,
)

MODEL_CHOICES = ["bundled:SmolLM2-135M-Instruct"]
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # larger files are named, not offered for download


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ragkit ui")
    parser.add_argument("--kb", required=True)
    parser.add_argument("--root", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args


def streaming_markdown(piece: str) -> str:
    """A piece of a streaming answer as inert Markdown: HTML as text, and no ``[`` or ``]``,
    so no link or image can form before the whole answer is checked by
    :func:`ragkit.safe_markdown` (which then replaces it).

    >>> streaming_markdown('<img src=x> ![t](http://x/y.png)')
    '&lt;img src=x&gt; !\\[t\\](http://x/y.png)'
    """
    text = piece.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("[", "\\[").replace("]", "\\]")


def answer_markdown(text: str, citations: list[dict[str, Any]]) -> str:
    """The answer as Markdown whose only links point at its own sources."""
    return safe_markdown(text, [c["source"] for c in citations])


@st.cache_resource(show_spinner="Loading the knowledge base…")
def _rag(kb: str) -> RAG:
    # the app reads ./ragkit.toml too (the library alone reads only the kb's own)
    return RAG(kb, settings_files=["ragkit.toml"])


def _knowledge_bases(root: Path, current: Path) -> list[Path]:
    return sorted({current, *KnowledgeBase.find(root)})


# -- sidebar ---------------------------------------------------------------------------------
def _create_kb(root: Path) -> None:
    """Button callback (runs before the next script run, so it may set the picker)."""
    state = st.session_state
    name = str(state.get("new_kb_name", "")).strip()
    if not name:
        return
    state.kb = state.kb_picker = str(KnowledgeBase.create(root, name).path)
    state.pop("session_id", None)


def sidebar(args: argparse.Namespace) -> tuple[RAG, str]:
    state = st.session_state
    start = Path(args.kb).resolve()
    root = Path(args.root).resolve() if args.root else start.parent
    kbs = _knowledge_bases(root, start)
    state.setdefault("kb", str(start))
    with st.sidebar:
        st.header("Knowledge base")
        labels = [str(p) for p in kbs]
        if state.kb not in labels:
            labels.append(state.kb)
        if state.get("kb_picker") not in labels:
            state.kb_picker = state.kb
        picked = st.selectbox("Knowledge base", labels, format_func=lambda p: Path(p).name,
                              key="kb_picker")
        if picked != state.kb:
            state.kb = picked
            state.pop("session_id", None)
        with st.popover("New knowledge base"):
            st.text_input("Folder name", key="new_kb_name")
            st.button("Create", key="create_kb", on_click=_create_kb, args=(root,))
        rag = _rag(state.kb)
        st.caption(f"`{rag.kb}`")
        st.metric("chunks", rag.count())

        st.header("Chats")
        if st.button("New chat", key="new_chat", icon=":material/add:"):
            state.session_id = new_session_id()
        sessions = rag.sessions()
        state.setdefault("session_id", sessions[0].id if sessions else new_session_id())
        for s in sessions[:30]:
            label = s.title or s.id
            current = s.id == state.session_id
            if st.button(("▶ " if current else "") + label[:40], key=f"session-{s.id}",
                         help=f"{s.turns} turns · {s.id}"):
                state.session_id = s.id
                st.rerun()

        st.header("Settings")
        settings_form(rag)
    return rag, state.session_id


def settings_form(rag: RAG) -> None:
    s = rag.settings
    with st.form("settings"):
        models = list(dict.fromkeys([s.llm_model, *MODEL_CHOICES]))
        model = st.selectbox("Model (GGUF)", models, index=models.index(s.llm_model))
        temperature = st.slider("Temperature", 0.0, 2.0, float(s.temperature), 0.05)
        passages = st.number_input("Passages", 1, 20, int(s.passages))
        mode = st.selectbox("Retrieval mode", list(RETRIEVAL_MODES),
                            index=list(RETRIEVAL_MODES).index(s.retrieval_mode))
        few_shot = st.toggle("Few-shot examples", value=bool(s.few_shot_file),
                             disabled=not s.few_shot_file,
                             help="Set few_shot_file in ragkit.toml to enable.")
        tools = st.toggle("Tools (calculator, search_kb)", value=bool(s.tools))
        if st.form_submit_button("Save settings"):
            changes: dict[str, Any] = {
                "llm_model": model, "temperature": temperature, "passages": int(passages),
                "retrieval_mode": mode, "tools": (s.tools or ["calculator", "search_kb"])
                if tools else [],
            }
            if s.few_shot_file and not few_shot:
                changes["few_shot_file"] = None
            try:
                rag.update_settings(**changes)
                st.toast("Settings saved to ragkit.toml")
            except RagkitError as exc:
                st.error(str(exc))


# -- chat ------------------------------------------------------------------------------------
def show_sources(citations: list[dict[str, Any]], key: str,
                 support: list[dict[str, Any]] | None = None) -> None:
    """Cited passages under "Sources", the others under "Given, not cited"; each marked
    with the answer's sentences it supports or is wrongly cited for."""
    cited = [c for c in citations if c.get("cited", True)]
    given = [c for c in citations if not c.get("cited", True)]
    for title, group in (("Sources", cited), ("Given to the model, not cited", given)):
        if not group:
            continue
        st.caption(title)
        for c in group:
            _source(c, key, support or [])


def _source(c: dict[str, Any], key: str, support: list[dict[str, Any]]) -> None:
    name = Path(c["source"]).name
    where = f", page {c['page']}" if c.get("page") is not None else ""
    warn = " ⚠" if c.get("flags") else ""
    backs = [x for x in support if x.get("supported") and x.get("passage") == c["n"]]
    wrong = [x for x in support if x.get("wrong_citation") and c["n"] in x.get("markers", [])]
    mark = " ✓" if backs else (" ✗" if wrong else "")
    how = " (matched by ragkit)" if c.get("attributed") else ""
    with st.expander(f"[{c['n']}] {name}{where}{mark}{warn}{how}"):
        if c.get("flags"):
            st.warning("Possible prompt injection in this passage: "
                       + ", ".join(c["flags"]), icon="⚠️")
        for x in backs:
            st.caption(f"✓ supports: {x['text']}")
        for x in wrong:
            st.caption(f"✗ cited for, but does not support: {x['text']}")
        if c.get("section"):
            st.caption(c["section"])
        st.text(c["text"])
        path = Path(c["source"])
        if path.is_file() and path.stat().st_size <= DOWNLOAD_LIMIT:
            st.download_button("Download file", path.read_bytes(), file_name=path.name,
                               key=f"dl-{key}-{c['n']}", on_click="ignore")
        else:
            st.caption(c["source"])


def show_support(support: list[dict[str, Any]], share: float | None) -> None:
    """The answer's sentences the passages do not back, marked."""
    weak = [x for x in support if x.get("factual") and not x.get("supported")]
    if share is not None:
        st.caption(f"{share:.0%} of the answer's factual sentences are supported by the "
                   "passages")
    for x in weak:
        why = "wrong citation" if x.get("wrong_citation") else "not supported by the passages"
        st.markdown(f"✗ *{why}:* {safe_markdown(x['text'])}")


def _flagged_label(f: dict[str, Any]) -> str:
    if f["kind"] != "passage":
        return f"tool {f['name']}"
    name = Path(f["source"]).name
    return f"[{f['n']}] {name}" if f.get("n") is not None else f"{name} (held back)"


def show_answer_details(answer: Answer | None, record: dict[str, Any] | None, key: str) -> None:
    rec = record or {}
    asked = answer.question if answer else rec.get("question")
    searched = answer.standalone_question if answer else rec.get("standalone")
    if searched and searched != asked:
        st.caption(f"searched for: {searched}")
    flagged = answer.flagged if answer else rec.get("flagged", [])
    if flagged:
        st.warning("⚠ Possible prompt injection in "
                   + ", ".join(_flagged_label(f) for f in flagged)
                   + ": treated as data, not instructions.", icon="⚠️")
    support = [x.to_dict() for x in answer.support] if answer else rec.get("support") or []
    show_support(support, answer.supported_share if answer else rec.get("supported_share"))
    citations = [c.to_dict() for c in answer.citations] if answer else rec.get("citations", [])
    show_sources(citations, key, support)
    timings = answer.timings if answer else rec.get("timings", {})
    if timings:
        st.caption(f"first token {timings.get('first_token_ms', 0):.0f} ms · "
                   f"total {timings.get('total_ms', 0):.0f} ms · "
                   f"prompt {timings.get('prompt_tokens', 0):.0f} tokens"
                   + (" · from the cache" if timings.get("cache_hit") else ""))
    reasoning = answer.reasoning if answer else rec.get("reasoning")
    if reasoning:
        with st.expander("Reasoning (kept out of the answer)"):
            st.text(reasoning)
    if answer is not None and answer.prompt is not None:
        with st.expander("Prompt sent"):
            st.code(answer.prompt.render(), language=None, wrap_lines=True)
    ask_id = answer.id if answer else rec.get("id")
    if ask_id:
        feedback(ask_id, record)


def feedback(ask_id: str, record: dict[str, Any] | None) -> None:
    rag: RAG = st.session_state.rag
    given = (record or {}).get("feedback")
    default = {1: 1, -1: 0}.get(given) if given is not None else None
    rating = st.feedback("thumbs", key=f"fb-{ask_id}", default=default)
    if rating is not None:
        comment = st.text_input("Comment (optional)", key=f"fbc-{ask_id}",
                                value=(record or {}).get("comment") or "")
        value = 1 if rating == 1 else -1
        if value != given or comment != ((record or {}).get("comment") or ""):
            rag.feedback(ask_id, value, comment)
            st.caption("Feedback saved.")


def chat_page(rag: RAG, session_id: str) -> None:
    state = st.session_state
    if rag.count() == 0:
        st.info("The knowledge base is empty: upload files on the Documents page, or run "
                f"`ragkit-ingest DOCS --kb {rag.kb}`.")
    answers: dict[str, Answer] = state.setdefault("answers", {})
    turns = rag.messages(session_id)
    for i, turn in enumerate(turns):
        with st.chat_message("user"):
            st.text(turn["question"])
        with st.chat_message("assistant"):
            record = turn["ask"] or {}
            st.markdown(answer_markdown(turn["answer"], record.get("citations", [])))
            ask_id = turn["ask_id"]
            show_answer_details(answers.get(ask_id or ""), turn["ask"],
                                key=f"{session_id}-{i}")
    question = st.chat_input("Ask about your documents")
    if not question:
        return
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        try:
            stream = rag.chat_stream(session_id, question)
            shown = st.empty()
            with shown:
                st.write_stream(streaming_markdown(piece) for piece in stream)
            answer = stream.answer
        except RagkitError as exc:
            st.error(str(exc))
            return
        shown.markdown(answer_markdown(answer.text, [c.to_dict() for c in answer.citations]))
        if answer.id:
            answers[answer.id] = answer
        show_answer_details(answer, None, key=f"{session_id}-new")


# -- documents -------------------------------------------------------------------------------
def documents_page(rag: RAG) -> None:
    s = rag.settings
    st.subheader("Add documents")
    files = st.file_uploader(
        f"Files ({', '.join(t.lstrip('.') for t in s.upload_types)}; at most "
        f"{s.upload_max_mb:g} MB each)", accept_multiple_files=True,
        type=[t.lstrip(".") for t in s.upload_types], key="uploader")
    if files and st.button("Ingest", type="primary", key="ingest"):
        saved, refused = [], []
        for f in files:
            try:
                saved.append(rag.save_upload(f.name, f.getvalue()))
            except RagkitError as exc:
                refused.append(str(exc))
        for msg in refused:
            st.error(msg)
        if saved:
            bar = st.progress(0.0, text="Ingesting…")

            def tick(p: Progress) -> None:
                bar.progress(p.done / max(p.total, 1),
                             text=f"{p.done}/{p.total} {Path(p.path).name}")

            try:
                report = rag.ingest(*saved, progress=tick)
            except LockedError as exc:
                st.warning(f"Another ingest is writing to this knowledge base; try again when "
                           f"it finishes. ({exc})")
            except RagkitError as exc:
                st.error(str(exc))
            else:
                bar.progress(1.0, text="Done")
                st.success(f"Ingested {len(report.ingested)} file(s), "
                           f"{report.chunks_added} chunks added.")
                for failure in report.failures:
                    st.error(f"{Path(failure.path).name}: {failure.error}")
    st.subheader("Documents")
    docs = rag.documents()
    if not docs:
        st.caption("No documents yet.")
    for d in docs:
        left, mid, right = st.columns([6, 2, 2])
        left.text(Path(d.source).name)
        left.caption(d.source)
        mid.text(f"{d.chunks} chunks")
        if right.button("Delete", key=f"del-{d.hash[:12]}-{Path(d.source).name}"):
            try:
                removed = rag.delete_document(d.source)
                st.toast(f"Deleted {Path(d.source).name} ({removed} chunks)")
                st.rerun()
            except LockedError:
                st.warning("An ingest is running; delete again when it finishes.")
            except RagkitError as exc:
                st.error(str(exc))


def main() -> None:
    ragkit.apply_offline_defaults()  # the app owns its process (see ragkit._offline)
    st.set_page_config(page_title="ragkit chat", page_icon="📚", layout="wide")
    args = _args()
    page = st.sidebar.radio("Page", ["Chat", "Documents"], horizontal=True, key="page")
    try:
        rag, session_id = sidebar(args)
    except RagkitError as exc:
        st.title("ragkit chat")
        st.error(str(exc))
        return
    st.session_state.rag = rag
    st.title("ragkit chat" if page == "Chat" else "Documents")
    if page == "Chat":
        chat_page(rag, session_id)
    else:
        documents_page(rag)


# Streamlit runs this file as __main__. Parser worker processes re-import the main module
# as __mp_main__ (multiprocessing's spawn/forkserver), which must not start the app.
if __name__ == "__main__":
    main()
