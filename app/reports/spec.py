"""Report specs: a YAML file read into frozen values, with errors that name the file and line.

    title: Due diligence: services agreement      # one line
    collection: Samples                           # an existing collection
    mode: auto                                    # optional: auto | full | focused | map-reduce
    intro: Optional paragraph under the title.
    sections:
      - heading: Term and termination
        questions:
          - What is the initial term?             # a question ...
          - question: List every termination right.
            mode: map-reduce                      # ... or one with its own mode

The YAML is composed, never constructed (no tags run, no objects built), into plain data with the
line of every value; pydantic checks it against the schema (`_SpecModel`), and its first error
is worded for the author and carries the line it is about. Unknown keys are errors, not ignored:
a typo (`questons:`) would otherwise silently empty a section.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from core.domain import Mode
from core.errors import SpecError

MAX_SPEC_BYTES = 1024 * 1024
MAX_QUESTIONS = 200
MAX_LINE_CHARS = 300  # title and headings
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    mode: Mode


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class ReportSpec:
    title: str
    collection: str
    sections: tuple[Section, ...]
    mode: Mode = Mode.AUTO
    intro: str = ""
    text: str = ""  # the YAML it was read from, kept with the report

    @property
    def questions(self) -> list[tuple[Section, Question]]:
        """Every question with its section, in spec order."""
        return [(s, q) for s in self.sections for q in s.questions]


def load_spec(path: Path | str, collections: Collection[str] | None = None) -> ReportSpec:
    """Read and check a spec file; `collections` (the names that exist) checks its collection."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(source, f"cannot read the spec: {exc.strerror or exc}") from exc
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(source, f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(source, "the spec is not UTF-8 text") from exc
    return parse_spec(text, source, collections)


def parse_spec(text: str, source: str = "<spec>",
               collections: Collection[str] | None = None) -> ReportSpec:
    """A spec from YAML text; `source` names it in errors."""
    data, lines = _compose(text, source)
    named = data.get("collection") if isinstance(data, dict) else None
    if collections is not None and isinstance(named, str) and named.strip() not in collections:
        # Said first: the commonest mistake, and it makes the rest moot.
        raise SpecError(source, f"no collection named {named.strip()!r}",
                        lines.get(("collection",)))
    try:
        checked = _SpecModel.model_validate(data)
    except ValidationError as exc:
        # An unknown key first: a typo (`questons:`) explains the "missing" it also causes.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise _spec_error(errors[0], data, lines, source) from None
    sections = tuple(
        Section(section.heading, tuple(
            Question(q, checked.mode) if isinstance(q, str) else Question(q.question,
                                                                         q.mode or checked.mode)
            for q in section.questions))
        for section in checked.sections)
    spec = ReportSpec(checked.title, checked.collection, sections, checked.mode,
                      checked.intro or "", text)
    if len(spec.questions) > MAX_QUESTIONS:
        raise SpecError(source, f"{len(spec.questions)} questions: a report takes at most "
                        f"{MAX_QUESTIONS}")
    return spec


# -- the schema (pydantic) ------------------------------------------------------------------------

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=MAX_LINE_CHARS, pattern=r"^[^\n]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _QuestionModel(_Strict):
    question: _Text
    mode: Mode | None = None


def _question_kind(value: object) -> str:
    return "mapping" if isinstance(value, dict) else "text"


class _SectionModel(_Strict):
    heading: _Line
    questions: list[Annotated[Annotated[_Text, Tag("text")] | Annotated[_QuestionModel,
                                                                         Tag("mapping")],
                              Discriminator(_question_kind)]] = Field(min_length=1)


class _SpecModel(_Strict):
    title: _Line
    collection: _Line
    mode: Mode = Mode.AUTO
    intro: _Text | None = None
    sections: list[_SectionModel] = Field(min_length=1)


# -- YAML with line numbers, and errors worded for the person who wrote it -------------------------

Path_ = tuple[str | int, ...]


def _compose(text: str, source: str) -> tuple[object, dict[Path_, int]]:
    """The YAML as plain data (scalars as strings, never constructed) and the line of every
    value, by its path ("sections", 0, "heading")."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        raise SpecError(source, f"invalid YAML: {problem}", line) from exc
    except yaml.YAMLError as exc:
        raise SpecError(source, f"invalid YAML: {exc}") from exc
    if root is None:
        raise SpecError(source, "the spec is empty")
    lines: dict[Path_, int] = {}

    def walk(node: Node, path: Path_) -> object:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, MappingNode):
            out: dict[str, object] = {}
            for key_node, value in node.value:
                key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node)
                lines[(*path, key, "key")] = key_node.start_mark.line + 1
                if key in out:
                    raise SpecError(source, f"{key!r} appears twice in {_what(path)}",
                                    key_node.start_mark.line + 1)
                out[key] = walk(value, (*path, key))
            return out
        if isinstance(node, SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == _NULL_TAG:
            return None
        if node.tag.startswith("tag:yaml.org,2002:") or node.tag == "!":
            return node.value  # plain scalars stay text: "2024" is a title, not a number
        return _Tagged(node.tag)  # a YAML tag (!!python/...): never constructed, refused

    return walk(root, ()), lines


@dataclass(frozen=True, slots=True)
class _Tagged:
    tag: str


def _what(path: Path_, data: object = None) -> str:
    """How a place in the spec is named in errors."""
    if not path:
        return "the spec"
    if path[0] == "sections" and len(path) >= 2:
        number = int(path[1]) + 1
        if len(path) == 2:
            return f"section {number}"
        heading = _heading(data, int(path[1]))
        where = f"section {heading!r}" if heading else f"section {number}"
        if path[2] == "heading":
            return f"section {number}'s heading"
        if len(path) >= 4 and path[2] == "questions":
            return "the question" if path[-1] == "question" else f"a question of {where}"
        return f"the {path[2]} of {where}"
    return str(path[-1])


def _heading(data: object, index: int) -> str | None:
    try:
        heading = data["sections"][index]["heading"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    return heading.strip() if isinstance(heading, str) else None


def _spec_error(error: dict, data: object, lines: dict[Path_, int], source: str) -> SpecError:
    """A pydantic error as the spec's author reads it: what is wrong, at which line."""
    loc = tuple(p for p in error["loc"] if p not in ("text", "mapping"))
    kind, value = error["type"], error.get("input")
    parent = loc[:-1]

    def at(path: Path_) -> int | None:
        while path not in lines and path:
            path = path[:-1]
        return lines.get(path)

    def fail(message: str, path: Path_) -> SpecError:
        return SpecError(source, message, at(path))

    if kind == "missing":
        if loc[-1] == "questions":
            return fail(f"section {_heading(data, int(loc[1]))!r} has no questions", parent)
        return fail(f"{loc[-1]!r} is missing", parent)
    if kind == "extra_forbidden":
        keys = ", ".join(_model_for(parent).model_fields)
        return fail(f"unknown key {loc[-1]!r} in {_what(parent, data)} (expected: {keys})",
                    (*loc, "key"))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = ", ".join(_model_for(loc).model_fields)
        return fail(f"{_what(loc, data)} must be a mapping of {keys}", loc)
    if kind in ("too_short", "list_type") and loc[-1] == "questions":
        if kind == "too_short" or value is None:
            return fail(f"section {_heading(data, int(loc[1]))!r} has no questions", loc)
        return fail(f"the questions of section {_heading(data, int(loc[1]))!r} must be a list",
                    loc)
    if kind in ("too_short", "list_type") and loc == ("sections",):
        return fail("'sections' must be a list of at least one section", loc)
    if kind == "enum":
        choices = ", ".join(m.value for m in Mode)
        return fail(f"unknown mode {value!r} (expected: {choices})", loc)
    if kind in ("string_too_long", "string_pattern_mismatch"):
        return fail(f"{_what(loc, data)} must be one line of at most {MAX_LINE_CHARS} "
                    "characters", loc)
    if kind == "string_too_short":
        return fail(f"{_what(loc, data)} is empty", loc)
    if kind == "string_type":
        return fail(f"{_what(loc, data)} must be text", loc)
    return fail(f"{_what(loc, data)}: {error['msg']}", loc)


def _model_for(path: Path_) -> type[BaseModel]:
    if not path:
        return _SpecModel
    if path[0] == "sections" and len(path) == 2:
        return _SectionModel
    return _QuestionModel
