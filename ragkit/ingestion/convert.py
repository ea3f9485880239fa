"""External programs for the formats no Python package reads: LibreOffice, pandoc, Tesseract.

Debian packages, installed by ``scripts/bootstrap`` (never downloaded at run time). Each
run is a subprocess with a timeout, in its own process group (LibreOffice starts children
of its own, and all of them are killed when the time is up), and its failure is one line:
what failed, and why. A type whose every tool is missing is not parsed at all:
:func:`missing_tool` says which package to install, and ingest lists the file as skipped.

LibreOffice gets a private profile per process (``-env:UserInstallation``): two instances
sharing one profile block each other, and parser workers run side by side.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragkit.errors import ParseError


@dataclass(frozen=True)
class Tool:
    """An external program, and the Debian package(s) that install it."""

    name: str
    binary: str
    package: str
    #: for LibreOffice: the registry file its component installs (Writer, Calc, Impress
    #: come in separate packages, all behind the one ``soffice``)
    component: str = ""

    def path(self) -> str | None:
        """The program's path if it is installed (on ``PATH``, with its component)."""
        exe = shutil.which(self.binary)
        if exe is None or not self.component:
            return exe
        program = Path(os.path.realpath(exe)).parent
        return exe if (program.parent / "share" / "registry" / self.component).exists() else None

    def hint(self) -> str:
        return f"{self.name}: apt-get install {self.package}"


WRITER = Tool("LibreOffice Writer", "soffice", "libreoffice-writer-nogui", "writer.xcd")
CALC = Tool("LibreOffice Calc", "soffice", "libreoffice-calc-nogui", "calc.xcd")
IMPRESS = Tool("LibreOffice Impress", "soffice", "libreoffice-impress-nogui", "impress.xcd")
PANDOC = Tool("pandoc", "pandoc", "pandoc")
TESSERACT = Tool("Tesseract OCR", "tesseract",
                 "tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim")

#: suffix -> the routes that read it, best first: (tool, what the tool converts it to).
#: Measured on unstructured's example documents: pandoc reads ODT as well as LibreOffice
#: does in a twentieth of the time (0.1 s against 1.6 s), but flattens RTF tables into
#: one row, so RTF goes to LibreOffice first; LibreOffice has no EPUB or Org reader.
ROUTES: dict[str, tuple[tuple[Tool, str], ...]] = {
    ".doc": ((WRITER, "docx"),),
    ".rtf": ((WRITER, "docx"), (PANDOC, "html")),
    ".odt": ((PANDOC, "html"), (WRITER, "docx")),
    ".ppt": ((IMPRESS, "pptx"),),
    ".odp": ((IMPRESS, "pptx"),),
    ".xls": ((CALC, "xlsx"),),
    ".ods": ((CALC, "xlsx"),),
    ".epub": ((PANDOC, "html"),),
    ".org": ((PANDOC, "html"),),
}
#: image suffixes read by Tesseract (through Leptonica)
IMAGES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

#: seconds one conversion may take (LibreOffice takes 1.5-3 s on a small file). Below the
#: default ``parse_timeout_s`` (120 s), so that a stuck tool is reported by name and killed
#: with its children before the whole parser process is
CONVERT_TIMEOUT = 100.0
#: seconds Tesseract may take on one image or PDF page (3-8 s for an A4 page here)
OCR_TIMEOUT = 100.0


def route(suffix: str) -> tuple[Tool, str] | None:
    """The first installed route for ``suffix``, or None if none is installed."""
    for tool, target in ROUTES.get(suffix, ()):
        if tool.path() is not None:
            return tool, target
    return None


def missing_tool(suffix: str) -> str | None:
    """Why a ``suffix`` file cannot be read here (the package to install), or None.

    >>> missing_tool(".md") is None
    True
    """
    routes = ROUTES.get(suffix)
    if routes and route(suffix) is None:
        first = routes[0][0]
        alternatives = "".join(f" (or {t.hint()})" for t, _ in routes[1:])
        return f"{suffix} needs {first.hint()}{alternatives}"
    if suffix in IMAGES and TESSERACT.path() is None:
        return f"{suffix} needs {TESSERACT.hint()}"
    return None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: soffice runs soffice.bin
    proc.communicate()


def _last_line(err: bytes) -> str:
    lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    useful = [ln for ln in lines if "javaldx" not in ln]  # LibreOffice's harmless warning
    return (useful or lines or ["no message"])[-1][:200]


def run(tool: Tool, args: list[str], *, what: str, timeout: float,
        stdin: bytes | None = None, env: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """Run ``tool`` with ``args``; its standard output and standard error.

    Raises:
        ParseError: the tool is missing, timed out (it and its children are killed) or
            exited with an error; the message names the tool and says what it was doing.
    """
    exe = tool.path()
    if exe is None:
        raise ParseError(f"{what} needs {tool.hint()}")
    proc = subprocess.Popen(
        [exe, *args], stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ParseError(
            f"{tool.name} did not finish {what} in {timeout:g} s (timed out; the file may be "
            "very large or damaged)"
        ) from None
    finally:
        if proc.returncode is None:  # timed out, or interrupted: leave nothing running
            _kill(proc)
    if proc.returncode != 0:
        raise ParseError(f"{tool.name} failed {what} (exit {proc.returncode}): {_last_line(err)}")
    return out, err


def _profile() -> str:
    """This process's LibreOffice profile folder (a URL), made on first use.

    Kept for the process's life: a new profile costs LibreOffice 1-2 s per start. Removed
    at exit; folders left by processes that ended without running ``atexit`` (parser
    workers, killed processes) are removed here, by the next process that converts."""
    base = Path(tempfile.gettempdir())
    prefix = f"ragkit-soffice-{os.getuid()}-"
    for old in base.glob(f"{prefix}*"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(old.name[len(prefix):])
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(old, ignore_errors=True)
    mine = base / f"{prefix}{os.getpid()}"
    if not mine.is_dir():
        mine.mkdir(mode=0o700)
        atexit.register(shutil.rmtree, mine, True)  # not run in pool workers: see above
    return mine.as_uri()


@contextlib.contextmanager
def soffice_converted(path: Path, tool: Tool, target: str) -> Iterator[Path]:
    """``path`` converted by LibreOffice to ``target`` (``docx``, ``pptx``, ``xlsx``), in a
    temporary folder removed on exit.

    Raises ParseError if LibreOffice fails, times out, or writes nothing (it exits 0 when it
    cannot load a file)."""
    with tempfile.TemporaryDirectory(prefix="ragkit-convert-") as out:
        args = [f"-env:UserInstallation={_profile()}", "--headless", "--norestore",
                "--nolockcheck", "--convert-to", target, "--outdir", out, os.path.abspath(path)]
        _, err = run(tool, args, what=f"converting {path.suffix} to .{target}",
                     timeout=CONVERT_TIMEOUT)
        made = Path(out) / f"{path.stem}.{target}"
        if not made.is_file():
            raise ParseError(f"{tool.name} could not convert the {path.suffix} file to .{target} "
                             f"(damaged, password-protected, or not a {path.suffix} file)"
                             + (f": {_last_line(err)}" if err.strip() else ""))
        yield made


def pandoc_html(path: Path) -> str:
    """``path`` as an HTML fragment, by pandoc (headings ``<h1>``…, tables, lists).

    Raises ParseError if pandoc fails or times out."""
    fmt = {".rtf": "rtf", ".odt": "odt", ".epub": "epub", ".org": "org"}[path.suffix.lower()]
    out, _ = run(PANDOC, ["--from", fmt, "--to", "html5", "--wrap=none", "--", str(path)],
              what=f"reading the {path.suffix} file", timeout=CONVERT_TIMEOUT)
    return out.decode("utf-8", "replace")
