"""A codebase (a folder, or the members of a zip/tar) becomes ONE document of kind CODE.

Collecting walks a tree top-down, the same walk for a folder on disk and for archive members
(built into an in-memory tree), so both follow one set of rules: .gitignore files (and DocScout's
own .docscoutignore, same syntax, which has the last word at its level) at every level with
git's semantics (the deepest ignore file with a matching pattern decides, its last matching
pattern wins, nothing under an ignored folder comes back); well-known folders that are never
source (version control, virtual environments, installed dependencies, caches, build output,
vendored code), each recorded once; symlinks, never followed; binaries (a NUL byte in the first
8 KB or a binary extension); lockfiles over 100 KB; files over max_code_file_bytes.

Parsing: a tree overview segment first (files with line counts, what was skipped and why), then
one segment per file, `File: <path>` and every line as `12| code`, so answers cite `path:12-40`.
Undecodable bytes become U+FFFD and the document, stored `partial`, names the files. An empty file
keeps a header-only segment whose Locator has no lines: it cites as `path`, never `path:0-0`.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import pathspec

from core.domain import (
    DocumentKind,
    Locator,
    ParsedDocument,
    Segment,
    SegmentKind,
    numbered_code,
)
from core.settings import Settings
from core.tokens import count_text_tokens, count_text_tokens_batch
from ingest.base import display_name
from ingest.code_rules import (
    BINARY_SNIFF_BYTES,
    dir_refusal,
    file_refusal,
    human_size,
    is_code_file,
    is_project_marker,
    is_source_file,
)
from ingest.text import decode_text, split_lines, text_encoding

__all__ = [
    "DOCSCOUT_IGNORE",
    "IGNORE_FILES",
    "CodeFiles",
    "Ignores",
    "code_sha256",
    "collect_folder",
    "collect_members",
    "ignore_patterns",
    "ignored_by",
    "is_source_file",
    "looks_like_codebase",
    "no_files_message",
    "parse_codebase",
]

GITIGNORE_MAX_BYTES = 1024 * 1024
DOCSCOUT_IGNORE = ".docscoutignore"
IGNORE_FILES = (".gitignore", DOCSCOUT_IGNORE)  # at one level, the second one has the last word
# (folder relative to the walk's root, the ignore file's name, its patterns), shallowest first
Ignores = tuple[tuple[str, str, pathspec.GitIgnoreSpec], ...]


@dataclass(frozen=True, slots=True)
class CodeFiles:
    """The files of a codebase, (posix relative path, bytes) sorted by path, and the paths
    skipped with the reason (a skipped folder appears once, as `name/`)."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


# --- the tree being walked: a folder on disk, or archive members in memory ---------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    kind: Literal["dir", "file", "link", "other"]
    size: int = 0


class _Tree(Protocol):
    def entries(self, rel: str) -> list[_Entry]: ...

    def read(self, rel: str, limit: int) -> bytes: ...


class _FolderTree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def entries(self, rel: str) -> list[_Entry]:
        out = []
        with os.scandir(self.root / rel) as found:
            for entry in found:
                if entry.is_symlink():
                    out.append(_Entry(entry.name, "link"))
                elif entry.is_dir(follow_symlinks=False):
                    out.append(_Entry(entry.name, "dir"))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    out.append(_Entry(entry.name, "file", size))
                else:
                    out.append(_Entry(entry.name, "other"))
        return out

    def read(self, rel: str, limit: int) -> bytes:
        # O_NOFOLLOW: a file swapped for a symlink after the listing is still not followed.
        fd = os.open(self.root / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            return f.read(limit + 1)


class _MemoryTree:
    """Archive members as a tree: a folder is a dict of names, a file is its bytes."""

    def __init__(self, members: list[tuple[str, bytes]], skipped: list[tuple[str, str]]) -> None:
        self.root: dict = {}
        for path, data in members:
            *dirs, name = path.split("/")
            node = self.root
            for part in dirs:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    skipped.append((path, "a file of the same name as one of its folders"))
                    break
            else:
                if isinstance(node.get(name), dict):
                    skipped.append((path, "a file of the same name as a folder"))
                else:
                    node[name] = data

    def _node(self, rel: str) -> dict | bytes:
        node: dict | bytes = self.root
        for part in rel.split("/") if rel else []:
            if not isinstance(node, dict):
                raise KeyError(rel)
            node = node[part]
        return node

    def entries(self, rel: str) -> list[_Entry]:
        node = self._node(rel)
        assert isinstance(node, dict)
        return [
            _Entry(name, "dir") if isinstance(child, dict) else _Entry(name, "file", len(child))
            for name, child in node.items()
        ]

    def read(self, rel: str, limit: int) -> bytes:
        node = self._node(rel)
        assert isinstance(node, bytes)
        return node[: limit + 1]


# --- the walk ------------------------------------------------------------------------------------


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def ignored_by(path: str, is_dir: bool, ignores: Ignores) -> str | None:
    """The name of the ignore file that excludes `path`, or None. Git's rule: the deepest file
    with a pattern matching the path decides, and its last matching pattern."""
    for base, name, spec in reversed(ignores):
        rel = path[len(base) + 1 :] if base else path
        verdict = spec.check_file(rel + "/" if is_dir else rel).include
        if verdict is not None:
            return name if verdict else None
    return None


def ignore_patterns(data: bytes) -> pathspec.GitIgnoreSpec:
    """The patterns of a .gitignore-syntax file."""
    return pathspec.GitIgnoreSpec.from_lines(
        decode_text(data[:GITIGNORE_MAX_BYTES])[0].splitlines())


# A folder being walked: its path, the entries still to visit, all their names, its ignores.
_Frame = tuple[str, Iterator[_Entry], set[str], Ignores]


class _Walker:
    def __init__(self, tree: _Tree, settings: Settings, skipped: list[tuple[str, str]]) -> None:
        self.tree, self.settings = tree, settings
        self.files: list[tuple[str, bytes]] = []
        self.skipped = skipped

    def run(self) -> CodeFiles:
        entries = self._entries("")
        if entries is not None:
            self._walk(entries)
        self.files.sort()
        return CodeFiles(self.files, self.skipped)

    def _entries(self, rel: str) -> list[_Entry] | None:
        try:
            return sorted(self.tree.entries(rel), key=lambda e: e.name)
        except OSError as exc:
            self.skipped.append((f"{rel or '.'}/", f"unreadable folder ({exc.strerror or exc})"))
            return None

    def _walk(self, root: list[_Entry]) -> None:
        """Depth first, in the order a recursive walk takes, but on a stack of its own: a tree
        nested thousands of folders deep must not exhaust Python's recursion limit."""
        stack = [self._frame("", root, ())]
        while stack:
            rel, pending, siblings, ignores = stack[-1]
            entry = next(pending, None)
            if entry is None:
                stack.pop()
                continue
            path = _join(rel, entry.name)
            if entry.kind == "dir":
                children = self._enter_dir(path, entry.name, siblings, ignores)
                if children is not None:
                    stack.append(self._frame(path, children, ignores))
            elif entry.kind == "link":
                self.skipped.append((path, "symbolic link (not followed)"))
            elif entry.kind == "other":
                self.skipped.append((path, "not a regular file"))
            else:
                self._visit_file(path, entry, ignores)

    def _frame(self, rel: str, entries: list[_Entry], ignores: Ignores) -> _Frame:
        for name in IGNORE_FILES:
            ignores = self._add_ignore_file(rel, name, entries, ignores)
        return rel, iter(entries), {e.name for e in entries}, ignores

    def _add_ignore_file(self, rel: str, name: str, entries: list[_Entry],
                         ignores: Ignores) -> Ignores:
        if not any(e.name == name and e.kind == "file" for e in entries):
            return ignores
        try:
            data = self.tree.read(_join(rel, name), GITIGNORE_MAX_BYTES)
        except OSError:
            return ignores
        return (*ignores, (rel, name, ignore_patterns(data)))

    def _enter_dir(self, path: str, name: str, siblings: set[str], ignores: Ignores
                   ) -> list[_Entry] | None:
        """The folder's entries, or None when it is unreadable, never source or ignored."""
        children = self._entries(path)
        if children is None:
            return None
        reason = dir_refusal(name, siblings, {c.name for c in children})
        if reason is None and (by := ignored_by(path, True, ignores)):
            reason = f"ignored by {by}"
        if reason is not None:
            self.skipped.append((path + "/", reason))
            return None
        return children

    def _visit_file(self, path: str, entry: _Entry, ignores: Ignores) -> None:
        by = ignored_by(path, False, ignores)
        reason = f"ignored by {by}" if by else None
        reason = reason or file_refusal(entry.name, entry.size, self.settings)
        data = b""
        if reason is None:
            try:
                data = self.tree.read(path, self.settings.max_code_file_bytes)
            except OSError as exc:
                reason = f"unreadable ({exc.strerror or exc})"
        if reason is None and len(data) > self.settings.max_code_file_bytes:
            reason = file_refusal(entry.name, len(data), self.settings)  # it grew meanwhile
        if reason is None and text_encoding(data[:BINARY_SNIFF_BYTES]) is None:
            reason = "binary file"  # NUL bytes, and not in the pattern of UTF-16 or UTF-32 text
        if reason is not None:
            self.skipped.append((path, reason))
        else:
            self.files.append((path, data))


def collect_folder(root: Path, settings: Settings) -> CodeFiles:
    """The source files under a folder, filtered as the module docstring says. Paths that are
    not valid UTF-8 are kept with their bad bytes escaped (ingest.base.display_name)."""
    found = _Walker(_FolderTree(root), settings, []).run()
    return CodeFiles(sorted((display_name(p), data) for p, data in found.files),
                     [(display_name(p), reason) for p, reason in found.skipped])


def collect_members(members: list[tuple[str, bytes]], settings: Settings) -> CodeFiles:
    """The same filtering for archive members (paths already safe). A single top-level folder
    shared by every member (`repo-main/`) is stripped."""
    skipped: list[tuple[str, str]] = []
    tree = _MemoryTree(_strip_common_folder(members), skipped)
    return _Walker(tree, settings, skipped).run()


def _strip_common_folder(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    tops = {path.split("/", 1)[0] for path, _ in members}
    if len(tops) != 1 or not all("/" in path for path, _ in members):
        return members
    return [(path.split("/", 1)[1], data) for path, data in members]


def code_sha256(files: list[tuple[str, bytes]]) -> str:
    """A content hash over sorted (path, sha256 of bytes) pairs: same files, same hash."""
    digest = hashlib.sha256()
    for path, data in sorted(files):
        digest.update(f"{path}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return digest.hexdigest()


# --- recognising codebases -----------------------------------------------------------------------


def looks_like_codebase(paths: list[str]) -> bool:
    """True when paths look like a software project: a project marker (.gitignore,
    pyproject.toml, package.json, Makefile, a .git folder ...) or a majority of source files."""
    files = [p for p in paths if not p.endswith("/")]
    for path in paths:
        parts = path.rstrip("/").split("/")
        if ".git" in parts or is_project_marker(parts[-1]):
            return True
    code = sum(1 for p in files if is_code_file(p))
    return bool(files) and 2 * code > len(files)


# --- parsing -----------------------------------------------------------------------------------


def _file_segment(path: str, lines: list[str], tokens: int) -> Segment:
    """The file's text as stored; `tokens` counts it as the model reads it (numbered_code)."""
    # An empty file is cited as `path`, never `path:0-0`.
    locator = Locator(path=path, line_start=1, line_end=len(lines)) if lines else Locator(path=path)
    return Segment(SegmentKind.CODE, "\n".join(lines), locator, tokens)


MAX_TREE_FILES = 3000


def _tree_lines(line_counts: list[tuple[str, int]]) -> list[str]:
    """An indented tree, `name (lines)`; paths sorted, so a folder's files are contiguous."""
    out: list[str] = []
    previous: list[str] = []
    for path, count in line_counts:
        *dirs, name = path.split("/")
        same = 0
        while same < min(len(dirs), len(previous)) and dirs[same] == previous[same]:
            same += 1
        out.extend("  " * depth + dirs[depth] + "/" for depth in range(same, len(dirs)))
        out.append("  " * len(dirs) + f"{name} ({count})")
        previous = dirs
    return out


def _skip_reasons(skipped: list[tuple[str, str]], examples: int) -> list[str]:
    """`reason (count): a, b, ...`, the most frequent reason first."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for path, reason in skipped:
        by_reason[reason].append(path)
    out = []
    for reason, paths in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(paths[:examples]) + (", ..." if len(paths) > examples else "")
        out.append(f"{reason} ({len(paths)}): {shown}")
    return out


def _skip_summary(skipped: list[tuple[str, str]], examples: int = 5) -> list[str]:
    if not skipped:
        return []
    noun = "path" if len(skipped) == 1 else "paths"
    reasons = ["- " + reason for reason in _skip_reasons(skipped, examples)]
    return [f"Skipped {len(skipped)} {noun}:", *reasons]


def _folder_lines(line_counts: list[tuple[str, int]], depth: int) -> list[str]:
    """`folder/ (files, lines)` for the folders `depth` levels down: a tree too big to list."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, count in line_counts:
        folder = "/".join(path.split("/")[:-1][:depth]) or "."
        totals[folder][0] += 1
        totals[folder][1] += count
    return [f"{folder}/ ({files} files, {lines} lines)" for folder, (files, lines) in
            sorted(totals.items())]


def _overview(name: str, code: CodeFiles, line_counts: list[tuple[str, int]]) -> Segment:
    """The codebase at a glance. Up to MAX_TREE_FILES files are listed one by one; a larger
    tree (a monorepo) is summarised by folders, so the overview stays a few thousand tokens."""
    total = sum(count for _, count in line_counts)
    size = human_size(sum(len(data) for _, data in code.files))
    header = [f"Codebase: {name}", f"{len(line_counts)} files, {total} lines, {size}", ""]
    if len(line_counts) <= MAX_TREE_FILES:
        tree = ["Files (lines in parentheses):", *_tree_lines(line_counts)]
    else:
        depth = 2
        while depth > 1 and len(_folder_lines(line_counts, depth)) > MAX_TREE_FILES:
            depth -= 1
        tree = [f"Folders (too many files to list; {depth} levels shown):",
                *_folder_lines(line_counts, depth)]
    skipped = _skip_summary(code.skipped)
    text = "\n".join([*header, *tree, *(["", *skipped] if skipped else [])])
    return Segment(SegmentKind.TEXT, text, Locator(path="."), count_text_tokens(text))


def _lossy_note(paths: list[str], shown: int = 10) -> str:
    names = ", ".join(paths[:shown]) + (", ..." if len(paths) > shown else "")
    files = "file" if len(paths) == 1 else "files"
    return f"{len(paths)} {files} not valid UTF-8, decoded with replacement characters: {names}"


def parse_codebase(name: str, code: CodeFiles, settings: Settings) -> ParsedDocument:
    """One CODE document: a tree overview segment, then one line-numbered segment per file.
    Files with undecodable bytes are kept (U+FFFD) and listed in the error; status partial."""
    lossy: list[str] = []
    line_counts, files_lines, texts = [], [], []
    for path, data in code.files:
        text, was_lossy = decode_text(data)
        if was_lossy:
            lossy.append(path)
        lines = split_lines(text)
        line_counts.append((path, len(lines)))
        files_lines.append(lines)
        texts.append(numbered_code(path, lines))
    tokens = count_text_tokens_batch(texts, threads=settings.workers or os.cpu_count() or 1)
    file_segments = [
        _file_segment(path, lines, n) for (path, _), lines, n in zip(code.files, files_lines, tokens)
    ]
    if not file_segments:
        return ParsedDocument.failed(source=name, kind=DocumentKind.CODE,
                                     sha256=code_sha256(code.files), error=no_files_message(code))
    errors = [_lossy_note(lossy)] if lossy else []
    segments = [_overview(name, code, line_counts), *file_segments]
    return ParsedDocument.build(
        source=name,
        kind=DocumentKind.CODE,
        sha256=code_sha256(code.files),
        title=name,
        segments=segments,
        images=[],
        errors=errors,
        size_bytes=sum(len(data) for _, data in code.files),
        files=len(file_segments),
    )


def no_files_message(code: CodeFiles) -> str:
    if not code.skipped:
        return "no source files found"
    return "no source files found; skipped: " + "; ".join(_skip_reasons(code.skipped, 3))
