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

The YAML is composed, never constructed (no tags run, no objects built), and read node by node
so that every error, structural ones included, carries the line it is about. Unknown keys are
errors, not ignored: a typo (`questons:`) would otherwise silently empty a section.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml
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
    reader = _Reader(source)
    root = reader.compose(text)
    top = reader.mapping(root, "the spec", ("title", "collection", "mode", "intro", "sections"))
    mode = reader.mode(top.get("mode"), Mode.AUTO)
    collection_node = reader.required(top, "collection", root)
    collection = reader.line_text(collection_node, "collection")
    if collections is not None and collection not in collections:
        raise SpecError(source, f"no collection named {collection!r}", _line(collection_node))
    spec = ReportSpec(
        title=reader.line_text(reader.required(top, "title", root), "title"),
        collection=collection,
        sections=reader.sections(reader.required(top, "sections", root), mode),
        mode=mode,
        intro=reader.text(top["intro"], "intro") if "intro" in top else "",
        text=text,
    )
    if len(spec.questions) > MAX_QUESTIONS:
        raise SpecError(source, f"{len(spec.questions)} questions: a report takes at most "
                        f"{MAX_QUESTIONS}")
    return spec


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


class _Reader:
    """Turns YAML nodes into spec values, raising SpecError at the node's line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node | None, message: str) -> SpecError:
        return SpecError(self.source, message, _line(node) if node is not None else None)

    def compose(self, text: str) -> Node:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            line = mark.line + 1 if mark is not None else None
            raise SpecError(self.source, f"invalid YAML: {problem}", line) from exc
        except yaml.YAMLError as exc:
            raise SpecError(self.source, f"invalid YAML: {exc}") from exc
        if root is None:
            raise SpecError(self.source, "the spec is empty")
        return root

    def mapping(self, node: Node, what: str, keys: tuple[str, ...]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping of {', '.join(keys)}")
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key not in keys:
                raise self.fail(key_node, f"unknown key {key!r} in {what} (expected: "
                                f"{', '.join(keys)})")
            if key in out:
                raise self.fail(key_node, f"{key!r} appears twice in {what}")
            out[key] = value
        return out

    def required(self, fields: dict[str, Node], key: str, parent: Node) -> Node:
        node = fields.get(key)
        if node is None or _is_null(node):
            raise self.fail(node or parent, f"{key!r} is missing")
        return node

    def text(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or _is_null(node):
            raise self.fail(node, f"{what} must be text")
        value = node.value.strip()
        if not value:
            raise self.fail(node, f"{what} is empty")
        return value

    def line_text(self, node: Node, what: str) -> str:
        value = self.text(node, what)
        if "\n" in value or len(value) > MAX_LINE_CHARS:
            raise self.fail(node, f"{what} must be one line of at most {MAX_LINE_CHARS} "
                            "characters")
        return value

    def mode(self, node: Node | None, default: Mode) -> Mode:
        if node is None:
            return default
        value = self.text(node, "mode")
        try:
            return Mode(value)
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            raise self.fail(node, f"unknown mode {value!r} (expected: {choices})") from None

    def sections(self, node: Node, mode: Mode) -> tuple[Section, ...]:
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.fail(node, "'sections' must be a list of at least one section")
        return tuple(self.section(n, i, mode) for i, n in enumerate(node.value, 1))

    def section(self, node: Node, number: int, mode: Mode) -> Section:
        fields = self.mapping(node, f"section {number}", ("heading", "questions"))
        heading = self.line_text(self.required(fields, "heading", node), f"section {number}'s "
                                 "heading")
        questions = fields.get("questions")
        if questions is None or _is_null(questions) or (
                isinstance(questions, SequenceNode) and not questions.value):
            raise self.fail(questions or node, f"section {heading!r} has no questions")
        if not isinstance(questions, SequenceNode):
            raise self.fail(questions, f"the questions of section {heading!r} must be a list")
        return Section(heading, tuple(self.question(q, heading, mode) for q in questions.value))

    def question(self, node: Node, heading: str, mode: Mode) -> Question:
        if isinstance(node, MappingNode):
            fields = self.mapping(node, f"a question of section {heading!r}", ("question", "mode"))
            text = self.text(self.required(fields, "question", node), "the question")
            return Question(text, self.mode(fields.get("mode"), mode))
        return Question(self.text(node, f"a question of section {heading!r}"), mode)
