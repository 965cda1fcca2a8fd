"""Report specs: the sample specs load, and every mistake is named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.reports.spec import load_spec, parse_spec
from core.domain import Mode
from core.errors import SpecError

from .conftest import SAMPLE_DOCS

GOOD = """\
title: Due diligence
collection: Deal
mode: focused
intro: |
  Two lines
  of intro.
sections:
  - heading: Term
    questions:
      - What is the term?
      - question: List every clause.
        mode: map-reduce
  - heading: Money
    questions: ["What is the fee?"]
"""


def test_a_spec_becomes_frozen_values_with_modes_inherited_or_set():
    spec = parse_spec(GOOD, "dd.yaml", collections={"Deal"})
    assert (spec.title, spec.collection, spec.mode) == ("Due diligence", "Deal", Mode.FOCUSED)
    assert spec.intro == "Two lines\nof intro." and spec.text == GOOD
    assert [s.heading for s in spec.sections] == ["Term", "Money"]
    assert [(q.text, q.mode) for _, q in spec.questions] == [
        ("What is the term?", Mode.FOCUSED), ("List every clause.", Mode.MAP_REDUCE),
        ("What is the fee?", Mode.FOCUSED)]
    with pytest.raises(AttributeError):
        spec.title = "changed"  # frozen


@pytest.mark.parametrize("name", ["due_diligence", "code_review", "findings"])
def test_the_sample_specs_load(name):
    spec = load_spec(SAMPLE_DOCS / "reports" / f"{name}.yaml", collections=["Samples"])
    assert spec.collection == "Samples" and len(spec.sections) >= 3
    assert all(s.questions for s in spec.sections) and len(spec.questions) >= 6


@pytest.mark.parametrize(("text", "line", "message"), [
    ("title: [unclosed\ncollection: Deal\n", 2, "invalid YAML"),
    ("title: T\ncollection: Deal\nsections:\n  - heading: A\n   questions: [q]\n", 5,
     "invalid YAML"),
    ("title: T\ncollection: Deal\n\tsections: []\n", 3, "invalid YAML"),
    (("title: T\ncollection: Deal\nsections:\n  - heading: Empty\n    questions:\n"
      "  - heading: B\n    questions: [q]\n"), 5, "section 'Empty' has no questions"),
    ("title: T\ncollection: Deal\nsections:\n  - heading: Empty\n    questions: []\n",
     5, "section 'Empty' has no questions"),
    ("title: T\ncollection: Deal\nsections:\n  - heading: Empty\n", 4,
     "section 'Empty' has no questions"),
    ("title: T\ncollection: Nope\nsections:\n  - heading: A\n    questions: [q]\n", 2,
     "no collection named 'Nope'"),
    ("title: T\ncollection: Deal\nsections:\n  - heading: A\n    questons: [q]\n", 5,
     "unknown key 'questons' in section 1"),
    (("title: T\ncollection: Deal\nsections:\n  - heading: A\n    questions:\n"
      "      - question: q\n        mode: fast\n"), 7, "unknown mode 'fast'"),
    ("title: T\ncollection: Deal\nsections: nothing\n", 3, "'sections' must be a list"),
    ("collection: Deal\nsections:\n  - heading: A\n    questions: [q]\n", 1, "'title' is missing"),
    ("title: T\ncollection: Deal\nsections:\n  - heading: A\n    questions: [{mode: full}]\n",
     5, "'question' is missing"),
    ("title: T\ntitle: U\ncollection: Deal\n", 2, "'title' appears twice"),
    ("- just\n- a list\n", 1, "the spec must be a mapping"),
    ("title: |\n  two\n  lines\ncollection: Deal\n", 1, "title must be one line"),
])
def test_mistakes_name_the_file_and_line(text, line, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "specs/dd.yaml", collections=["Deal"])
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"specs/dd.yaml, line {line}: ")
    assert message in str(caught.value)


def test_unreadable_files_are_spec_errors(tmp_path: Path):
    with pytest.raises(SpecError, match="missing.yaml: cannot read the spec"):
        load_spec(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError, match="latin.yaml: the spec is not UTF-8 text"):
        load_spec(latin)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing but a comment\n")
    with pytest.raises(SpecError, match="empty.yaml: the spec is empty"):
        load_spec(empty)


def test_yaml_tags_are_never_constructed(tmp_path: Path):
    marker = tmp_path / "ran"
    text = f"title: !!python/object/apply:os.system ['touch {marker}']\ncollection: Deal\n" \
           "sections:\n  - heading: A\n    questions: [q]\n"
    with pytest.raises(SpecError, match="line 1: title must be text"):
        parse_spec(text, collections=["Deal"])
    assert not marker.exists()
