"""Exceptions raised by ragkit.

Every error ragkit raises derives from :class:`RagkitError`; each has a stable ``code``.

    RagkitError
     ├── ConfigError             bad settings file, variable or argument
     ├── ValidationError         bad input data (a question, a path)
     ├── NotFoundError           a knowledge base, model or file that does not exist
     ├── ParseError              one document could not be parsed (path + reason)
     ├── BackendError            an embedding model, store or LLM failed
     │    ├── DimensionMismatchError  the store holds vectors of another model
     │    └── DiskFullError           no space left on the knowledge base's disk
     └── LockedError             another process is writing to the knowledge base

Messages say what went wrong, where, and what to do next.
"""

from __future__ import annotations


class RagkitError(Exception):
    """Root of ragkit's exceptions."""

    code = "ragkit_error"


class ConfigError(RagkitError):
    code = "config_error"


class ValidationError(RagkitError):
    code = "validation_error"


class NotFoundError(RagkitError):
    code = "not_found"


class ParseError(RagkitError):
    code = "parse_error"


class BackendError(RagkitError):
    code = "backend_error"


class DimensionMismatchError(BackendError):
    code = "dimension_mismatch"


class DiskFullError(BackendError):
    """No space left on the device holding the knowledge base (found before a batch is
    written, or as the reason a write failed)."""

    code = "disk_full"


class LockedError(RagkitError):
    code = "locked"
