"""PDF seeds: one Document per page, the text as pypdf extracts it.

pypdf is pure Python and can stall for minutes or balloon on a hostile or broken file, and a thread
cannot be stopped. So the extraction runs in a worker process, a fresh interpreter started with
subprocess, under a wall-clock limit (it is killed when time is up) and an address-space limit.
Not multiprocessing: fork would copy a parent that may hold threads (torch, the Discord loop)
half-locked, and spawn re-imports the parent's main script (the CLI, the bot) in every worker.
A worker costs about a fifth of a second, small beside embedding the pages.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from embeddings.documents import Document
from embeddings.errors import SeedParseError

MAX_PDF_BYTES = 50 * 2**20
MAX_PAGES = 2000
MAX_TEXT_CHARS = 20 * 2**20      # extracted text, all pages together
TIMEOUT_S = 120.0                # whole file, worker start included
WORKER_MEMORY = 2 * 2**30        # address-space limit of the worker (Linux/macOS)
NO_TEXT = "no extractable text (scanned/image-only PDF?)"

_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the embeddings package
_WORKER = "from embeddings.parsers.pdf import _worker_main; _worker_main()"

log = logging.getLogger(__name__)


class _Refused(Exception):
    """A reason to refuse the file, raised inside the worker and sent back as text."""


def parse(path: Path) -> list[Document]:
    _check_file(path)
    from embeddings.parsers import read_sidecar
    from embeddings.parsers.frontmatter import citation_fields

    side = citation_fields(read_sidecar(path))
    outcome = run_bounded(_WORKER, [str(path), str(MAX_PAGES), str(MAX_TEXT_CHARS)], TIMEOUT_S)
    if outcome[0] == "timeout":
        raise SeedParseError(path, f"text extraction took over {TIMEOUT_S:g} s and was stopped")
    if outcome[0] == "died":
        raise SeedParseError(path, f"text extraction crashed (exit code {outcome[1]}: {outcome[2]})")
    try:
        result = json.loads(outcome[1])
    except ValueError:
        raise SeedParseError(path, "text extraction returned no readable result") from None
    if "error" in result:
        raise SeedParseError(path, result["error"])
    meta_title, pages, broken = result["title"], result["pages"], result["broken"]
    if broken:
        log.warning("%s: pages %s could not be read and were skipped", path.name, broken)
    if not any(text.strip() for text in pages):
        raise SeedParseError(path, NO_TEXT)
    title = side["title"] or meta_title or _first_line(pages) or path.stem
    return [
        Document(
            doc_id=path.stem,
            part=f"p{n}",
            title=title,
            text=text,
            source_file=path.name,
            outlet=side["outlet"],
            published=side["published"],
            url=side["url"],
            page=n,
            meta=side["meta"],
        )
        for n, text in enumerate(pages, start=1)
        if text.strip()
    ]


def _check_file(path: Path) -> None:
    """Cheap checks in the parent: size, the %PDF header, the %%EOF marker a complete file ends with."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise SeedParseError(path, "file is empty")
        if size > MAX_PDF_BYTES:
            raise SeedParseError(
                path, f"file is {size / 2**20:.0f} MiB, over the {MAX_PDF_BYTES // 2**20} MiB limit"
            )
        with path.open("rb") as f:
            head = f.read(1024)
            f.seek(max(0, size - 2048))
            tail = f.read()
    except OSError as exc:
        raise SeedParseError(path, f"cannot read: {exc.strerror or exc}") from None
    if b"%PDF-" not in head:
        raise SeedParseError(path, "not a PDF (no %PDF header)")
    if b"%%EOF" not in tail:
        raise SeedParseError(path, "truncated or malformed PDF (no %%EOF marker at the end)")


def _first_line(pages: list[str], limit: int = 200) -> str | None:
    for text in pages:
        for line in text.splitlines():
            if line.strip():
                return textwrap.shorten(line, limit, placeholder=" …")
    return None


def run_bounded(code: str, args: list[str], timeout: float) -> tuple:
    """Run ``python -c code args...`` in a fresh interpreter; return ("ok", stdout) if it exits 0.

    Returns ("timeout",) if it ran past ``timeout`` seconds (it is killed), or
    ("died", exit code, last line of stderr) otherwise.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_ROOT, os.environ.get("PYTHONPATH"))))}
    try:
        # -P: the working directory is not put on sys.path, so a seeds folder cannot shadow a module.
        done = subprocess.run(
            [sys.executable, "-P", "-c", code, *args],
            capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:  # run() has killed the worker already
        return ("timeout",)
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return ("died", done.returncode, lines[-1] if lines else "")
    return ("ok", done.stdout)


def _limit_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        # A backstop should the parent die without killing the worker: the kernel stops it.
        cpu = int(TIMEOUT_S) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the parent's time limit still holds


def _worker_main() -> None:
    """The worker: argv is path, max pages, max chars; writes one JSON object to stdout."""
    path, max_pages, max_chars = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    _limit_memory(WORKER_MEMORY)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair warnings are not the user's concern
    try:
        title, pages, broken = _read(path, max_pages, max_chars)
        out = {"title": title, "pages": pages, "broken": broken}
    except _Refused as exc:
        out = {"error": str(exc)}
    except MemoryError:
        out = {"error": f"text extraction needs over {WORKER_MEMORY // 2**30} GiB of memory"}
    except Exception as exc:  # noqa: BLE001 - any failure of a broken file becomes its reason
        out = {"error": _describe(exc)}
    sys.stdout.write(json.dumps(out))


def _read(path: str, max_pages: int, max_chars: int) -> tuple[str | None, list[str], list[int]]:
    from pypdf import PdfReader

    reader = PdfReader(path, strict=False)  # an encrypted file is tried with the empty password
    count = len(reader.pages)
    if count > max_pages:
        raise _Refused(f"too many pages ({count}, the limit is {max_pages})")
    try:
        meta_title = str(reader.metadata.title or "").strip() or None
    except Exception:  # noqa: BLE001 - no or a broken Info dictionary only costs the title
        meta_title = None
    pages, broken, total = [], [], 0
    for n, page in enumerate(reader.pages, start=1):
        try:
            # Lone surrogates from a broken font map cannot be stored as UTF-8: they become "?".
            text = (page.extract_text() or "").strip().encode("utf-8", "replace").decode("utf-8")
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken page should not lose the others
            if _is_password_error(exc):
                raise
            broken.append(n)
            text = ""
        total += len(text)
        if total > max_chars:
            raise _Refused(f"extracted text is over the limit of {max_chars:,} characters")
        pages.append(text)
    if broken and len(broken) == count:
        raise _Refused(f"malformed PDF (no page could be read; first broken page: {broken[0]})")
    return meta_title, pages, broken


def _is_password_error(exc: Exception) -> bool:
    from pypdf.errors import FileNotDecryptedError, WrongPasswordError

    return isinstance(exc, (FileNotDecryptedError, WrongPasswordError))


def _describe(exc: Exception) -> str:
    from pypdf.errors import DependencyError, PdfReadError, PdfStreamError

    if _is_password_error(exc):
        return "encrypted PDF that needs a password"
    if isinstance(exc, DependencyError):
        return f"encrypted PDF that cannot be opened here ({exc})"
    if isinstance(exc, PdfStreamError):
        return f"truncated or malformed PDF ({exc})"
    if isinstance(exc, PdfReadError):
        return f"malformed PDF ({exc})"
    return f"malformed PDF ({type(exc).__name__}: {exc})"
