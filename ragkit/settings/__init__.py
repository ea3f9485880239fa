"""One ``Settings`` object: defaults < ``ragkit.toml`` < ``RAGKIT_*`` variables < arguments.

``ragkit.toml`` is read from the knowledge-base folder, after any ``files`` the caller
names (the apps name ``./ragkit.toml``; the library alone never reads the working
directory). This module is the only place that reads the environment; everything else
receives a ``Settings``. Every field is documented in ``docs/configuration.md``; the
fields are declared by area in :mod:`ragkit.settings.fields`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ragkit._dtype import resolve_dtype
from ragkit._renamed import renamed
from ragkit.errors import ConfigError
from ragkit.settings.fields import (
    AnswerFields,
    IngestionFields,
    ModelFields,
    StorageFields,
    mask_url,
)

__all__ = ["RENAMED", "SETTINGS_FILE", "Settings", "mask_url", "save_settings"]

SETTINGS_FILE = "ragkit.toml"
#: old setting names -> new ones; the old names are still read, with a DeprecationWarning
RENAMED = {"top_k": "passages"}
# The TOML values of one Settings.load call. pydantic-settings has no per-call source
# argument, so load() sets this for the duration of one construction and resets it.
_TOML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("_TOML_DATA", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    """Values read from the ``ragkit.toml`` files by :meth:`Settings.load`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_TOML_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_DATA.get() or {})


class Settings(StorageFields, IngestionFields, AnswerFields, ModelFields, BaseSettings):
    """Everything ragkit can be told. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(env_prefix="RAGKIT_", extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name == "database_url" else value

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return renamed(data, RENAMED, "setting", "; rename it in ragkit.toml or your code")

    @model_validator(mode="after")
    def _budget(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                f"({self.chunk_size})"
            )
        if self.max_tokens >= self.n_ctx:
            raise ValueError(
                f"max_tokens ({self.max_tokens}) must be smaller than n_ctx ({self.n_ctx}), "
                "or no room is left for the passages"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @classmethod
    def load(cls, kb: str | Path | None = None, *, files: Sequence[str | Path] = (),
             **overrides: Any) -> Settings:
        """Read ``files`` (if present), then ``KB/ragkit.toml``, the environment, overrides.

        ``files``: extra settings files read before the knowledge base's own, e.g. the apps'
        ``["ragkit.toml"]`` (the working directory's); missing ones are skipped.

        Raises:
            ConfigError: a file is not valid TOML, or a value is invalid; the message names
                the file or variable and the field.
        """
        data: dict[str, Any] = {}
        sources: list[str] = []
        candidates = [Path(f).expanduser() for f in files]
        if kb is not None:
            candidates.append(Path(kb) / SETTINGS_FILE)
        for path in dict.fromkeys(p.resolve() for p in candidates):
            if path.is_file():
                try:
                    data.update(tomllib.loads(path.read_text(encoding="utf-8")))
                except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                    raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
                sources.append(str(path))
        for old, new in RENAMED.items():  # RAGKIT_TOP_K: the env source knows only fields
            env = os.environ.get(f"RAGKIT_{old.upper()}")
            if env is not None and f"RAGKIT_{new.upper()}" not in os.environ:
                data.setdefault(old, env)
        token = _TOML_DATA.set(data)
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            where = ", ".join(sources) or "defaults"
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(
                f"Invalid settings ({problems}). Read from {where}, RAGKIT_* variables "
                "and arguments; see docs/configuration.md."
            ) from exc
        finally:
            _TOML_DATA.reset(token)

    def fingerprint(self) -> dict[str, Any]:
        """The settings whose change means chunks must be re-made and re-embedded."""
        dtype, _ = resolve_dtype(self.embedding_dtype, model=self.embedding_model,
                                 device=self.embedding_device)
        return {
            **({} if dtype == "float32" else {"embedding_dtype": dtype}),  # float32: as before
            "embedding_model": self.embedding_model,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "languages": self.languages,
        }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"Cannot write {value!r} to {SETTINGS_FILE}")


def save_settings(kb: str | Path, **changes: Any) -> Settings:
    """Write ``changes`` into ``KB/ragkit.toml`` (keeping its other keys; ``None`` removes a
    key) and return the settings loaded afresh. Values are validated before the file is
    written; the file is replaced atomically. Comments in the file are not kept.
    """
    path = Path(kb) / SETTINGS_FILE
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    for old, new in RENAMED.items():  # the file is rewritten anyway: under the new name
        if old in data:
            data.setdefault(new, data.pop(old))
    changes = renamed(changes, RENAMED, "setting")
    for key, value in changes.items():
        if key not in Settings.model_fields:
            raise ConfigError(f"Unknown setting {key!r}; see docs/configuration.md.")
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    Settings.load(kb, **{k: v for k, v in changes.items() if v is not None})  # validate
    text = "# written by ragkit (save_settings); edit freely\n" + "".join(
        f"{k} = {_toml_value(v)}\n" for k, v in sorted(data.items()))
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return Settings.load(kb)
