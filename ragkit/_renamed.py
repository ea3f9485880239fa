"""Old names that are contracts: still accepted, with a DeprecationWarning, under the new."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any


def renamed(values: Mapping[str, Any], names: Mapping[str, str], what: str,
            hint: str = "") -> dict[str, Any]:
    """``values`` with each old key of ``names`` moved to its new key (a value given under
    the new name wins), warning once per old key used.

    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     renamed({"top_k": 3}, {"top_k": "passages"}, "setting")
    {'passages': 3}
    """
    out = dict(values)
    for old, new in names.items():
        if old in out:
            warnings.warn(f"{what} {old!r} is now {new!r}{hint}", DeprecationWarning,
                          stacklevel=4)
            value = out.pop(old)
            out.setdefault(new, value)
    return out
