"""Files that arrive through the web UI: sanitised names, a size limit, staged on disk so the
pipeline reads them as it reads any file given on the command line.

A browser sends whatever name the user's file had: directories, `..`, control characters,
reserved names. Only the base name survives, reduced to letters, digits and `._-+()` and spaces,
never hidden, never empty, unique within one upload.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

MAX_NAME = 120
_UNSAFE = re.compile(r"[^\w.\-+() ]+")


def safe_name(name: str) -> str:
    """A file name that is safe to write and to show: no folders, no control characters."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    base = re.sub(r"_{2,}", "_", base)
    if not base or base in {".", ".."}:
        base = "upload"
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        base = base[: MAX_NAME - len(ext) - 1].rstrip(" .") + ("." + ext if ext else "")
    return base


@dataclass(frozen=True, slots=True)
class Staged:
    paths: list[Path]  # written, ready for ingest_paths
    refused: list[tuple[str, str]]  # (name, why) for files not written


def stage_uploads(uploads: list[tuple[str, bytes]], folder: Path, max_bytes: int) -> Staged:
    """Write each upload under a safe, unique name in `folder`; refuse those over `max_bytes`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    refused: list[tuple[str, str]] = []
    taken: set[str] = set()
    for name, data in uploads:
        clean = safe_name(name)
        if len(data) > max_bytes:
            refused.append((clean, f"larger than the upload limit of {max_bytes // 2**20} MB "
                                   "(DOCSCOUT_MAX_UPLOAD_MB)"))
            continue
        unique, n = clean, 2
        while unique.lower() in taken:
            stem, dot, ext = clean.rpartition(".")
            unique = f"{stem} ({n}).{ext}" if dot and stem else f"{clean} ({n})"
            n += 1
        taken.add(unique.lower())
        path = folder / unique
        path.write_bytes(data)
        paths.append(path)
    return Staged(paths, refused)
