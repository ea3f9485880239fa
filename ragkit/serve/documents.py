"""``/v1/documents``: list, upload (then ingest), delete, with the chat UI's rules.

An upload is saved by ``rag.save_upload`` (safe name, the ``upload_types`` and
``upload_max_mb`` settings; :mod:`ragkit.uploads`) and ingested with ``rag.ingest``, as the
UI does. Uploads and deletes from this server run one at a time; an ingest running in
another process makes them fail with 409 and ``Retry-After`` (ragkit's writer lock).
A document's id is ragkit's: the SHA-256 of its file's bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import APIRouter, File, Request, UploadFile
from fastapi import Path as PathParam

from ragkit import RAG, DocumentInfo
from ragkit.serve.completions import Service
from ragkit.serve.errors import ApiError
from ragkit.serve.schemas import ERRORS, DeleteResult, DocumentList, DocumentOut, UploadResult

router = APIRouter(tags=["documents"], responses=ERRORS)
T = TypeVar("T")
_PATH = re.compile(r"(/[^\s:'\"]+)+")


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _locked(svc: Service, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` holding this server's writer lock: its uploads and deletes queue
    instead of failing on ragkit's writer lock against each other."""
    with svc.write_lock:
        return fn(*args)


def _out(d: DocumentInfo) -> DocumentOut:
    return DocumentOut(id=d.hash, source=d.source, name=Path(d.source).name, chunks=d.chunks,
                       size=d.size)


@router.get("/v1/documents", response_model=DocumentList)
async def list_documents(request: Request) -> DocumentList:
    """The ingested documents, by source path."""
    docs = await to_thread.run_sync(_service(request).rag.documents)
    return DocumentList(data=[_out(d) for d in docs])


def _save_and_ingest(rag: RAG, name: str, data: bytes) -> UploadResult:
    path = rag.save_upload(name, data)
    known = {Path(d.source).resolve() for d in rag.documents()}
    report = rag.ingest(path)
    if report.failures or report.skipped:
        why = ([f.error for f in report.failures] + [s.reason for s in report.skipped])[0]
        if path.resolve() not in known:
            path.unlink(missing_ok=True)  # refused: keep no file nothing points to
        raise ApiError(422, f"{Path(name).name!r} could not be ingested: "
                       f"{_PATH.sub(' ', why).strip()}", "ingest_failed")
    doc = next((d for d in rag.documents() if Path(d.source).resolve() == path.resolve()),
               None)
    return UploadResult(document=_out(doc) if doc else None, ingest=report.to_dict())


@router.post("/v1/documents", response_model=UploadResult, status_code=201,
             responses={409: {"description": "Another ingest is writing"},
                        422: {"description": "The file could not be parsed"}})
async def upload_document(
    request: Request,
    file: Annotated[UploadFile, File(description="The file (multipart field `file`).")],
) -> UploadResult:
    """Upload one file and ingest it (types and size as the ``upload_types`` and
    ``upload_max_mb`` settings allow; same rules as the chat UI's uploads)."""
    svc = _service(request)
    data = await file.read()
    with_lock = partial(_locked, svc, _save_and_ingest, svc.rag, file.filename or "upload", data)
    return await to_thread.run_sync(with_lock)


def _delete(rag: RAG, doc_id: str) -> DeleteResult:
    sources = [d.source for d in rag.documents() if d.hash == doc_id]
    if not sources:
        raise ApiError(404, f"No document has id {doc_id!r} (GET /v1/documents lists them).",
                       "document_not_found")
    chunks = sum(rag.delete_document(s) for s in sources)
    return DeleteResult(id=doc_id, deleted=True, sources=sources, chunks=chunks)


@router.delete("/v1/documents/{doc_id}", response_model=DeleteResult,
               responses={404: {"description": "No such document"}})
async def delete_document(
    request: Request,
    doc_id: Annotated[str, PathParam(pattern="^[0-9a-f]{64}$",
                                     description="The document's id (SHA-256).")],
) -> DeleteResult:
    """Remove a document (every copy with this content) from the knowledge base; an
    uploaded file is deleted too."""
    svc = _service(request)
    return await to_thread.run_sync(partial(_locked, svc, _delete, svc.rag, doc_id))
