"""Reports with a test-double backend and the real Llama 4 prompt counter: one batch, a failing
question kept with its error, footnotes that resolve, hostile text escaped, the auto map-reduce
rule, storage and the `report` / `reports` commands."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import pymupdf
import pytest
from click.testing import CliRunner

from app.cli import cli
from app.reports.run import run_report
from app.reports.service import create_report, write_report
from app.reports.spec import parse_spec
from core.domain import Mode, ReportStatus
from core.errors import EngineError
from core.settings import get_settings
from engine.backends import FakeBackend, Generation
from ingest.pipeline import ingest_paths
from storage.repository import Store

from .conftest import SAMPLE_DOCS, fake_analyst

SPEC = """\
title: Deal review
collection: deal
sections:
  - heading: Money
    questions:
      - What is the monthly fee?
      - What is the onboarding fee?
  - heading: Charts
    questions:
      - What was revenue in Q4?
"""
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture
def store(settings, tmp_path):
    s = Store(settings)
    hostile = tmp_path / "notes.md"
    hostile.write_text(f"# Notes\n\nThe fee note says {HOSTILE} and nothing else.\n")
    ingest_paths([SAMPLE_DOCS / "contract.pdf", SAMPLE_DOCS / "charts", hostile], "deal", s,
                 settings)
    yield s
    s.close()


def _labels(store) -> dict[str, int]:
    """D-numbers of the documents (sources in order, as the prompt numbers them)."""
    return {d.source: n for n, d in enumerate(store.documents("deal"), 1)}


def test_one_batch_a_failed_question_kept_and_three_formats(settings, store, counter, tmp_path):
    d = _labels(store)["contract.pdf"]
    chart = _labels(store)["charts/revenue_by_quarter.png"]
    backend = FakeBackend().enqueue(
        f"The monthly fee is US$18,750 [D{d} p.1]; see also [D{d} p.1, p.2] and [D99 p.4].",
        Generation("", error="the model server refused the request (400): bad input"),
        f"Q4 revenue was $43.2M [D{chart} p.1].")
    progress: list[tuple[int, int, str]] = []
    stored = create_report(fake_analyst(settings, store, counter, backend),
                           parse_spec(SPEC, "deal.yaml", ["deal"]),
                           on_progress=lambda *p: progress.append(p))
    assert len(backend.requests) == 3  # one batch, no retries: the failure was per request
    assert progress[0][:2] == (0, 3) and progress[-1][2] == f"Saved as report {stored.info.id}"
    info, report = stored.info, stored.report
    assert (info.status, info.questions, info.failed) == (ReportStatus.PARTIAL, 3, 1)

    md = report.markdown
    assert "## Money" in md and "### Q2. What is the onboarding fee?" in md
    assert "> **Not answered:** the model server refused the request (400): bad input" in md
    # Shared footnote numbers, in order; "$" escaped (two of them would make LaTeX).
    assert "US\\$18,750[^1]; see also[^1][^2] and[^3]." in md
    assert "[^3]: points to nothing the model read — `[D99 p.4]`" in md
    assert "| 2 | What is the onboarding fee? | failed |" in md
    assert f"[^4]: charts/revenue_by_quarter.png — `[D{chart} p.1]`" in md

    html = report.html
    assert html.count('<div class="note') == 4 and html.count("data:image/") == 3
    assert '<sup class="ref"><a href="#fn1">1</a>,<a href="#fn2">2</a></sup>' in html

    with pymupdf.open(stream=report.pdf, filetype="pdf") as pdf:
        flags = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES  # "ff" as letters
        text = " ".join(" ".join(page.get_text(flags=flags) for page in pdf).split())
        assert len(pdf[0].get_links()) >= 1  # footnote references are links
    for expected in ["Deal review", "Money", "Charts", "What is the monthly fee?",
                     "What is the onboarding fee?", "What was revenue in Q4?", "Not answered",
                     "bad input", "Usage", "Sources", "contract.pdf, page 2"]:
        assert expected in text, expected

    files = write_report(report, tmp_path / "out")
    assert [f.name for f in files] == ["report.md", "report.html", "report.pdf"]
    assert files[2].read_bytes() == report.pdf
    assert store.report(info.id).report.markdown == md
    assert [a.question for a in store.answers("deal")][:3] == [
        "What was revenue in Q4?", "What is the onboarding fee?", "What is the monthly fee?"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def test_hostile_text_from_spec_model_and_documents_is_escaped(settings, store, counter):
    notes = _labels(store)["notes.md"]
    spec = parse_spec(SPEC.replace("Deal review", f"Review {HOSTILE}")
                      .replace("What is the monthly fee?", f"Fee {HOSTILE}?"), "x.yaml", ["deal"])
    backend = FakeBackend().enqueue(
        f"**Bold** and {HOSTILE} `<code>` [D{notes} lines 1-3]\n\n- item <b>x</b>\n\n"
        f"```\n{HOSTILE}\n```",
        Generation("", error=f"failed {HOSTILE}"))
    run = run_report(fake_analyst(settings, store, counter, backend), spec)
    from app.reports.service import render_report

    report = render_report(run, store)
    parser = _Tags()
    parser.feed(report.html)
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div",
               "ul", "ol", "li", "b", "strong", "code", "pre", "sup", "a", "table", "tr", "th",
               "td", "img", "span", "br"}
    assert parser.tags <= allowed, parser.tags - allowed
    assert not any(name.startswith("on") for name in parser.attributes)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report.html
    assert "<strong>Bold</strong>" in report.html and "<code>&lt;code&gt;</code>" in report.html
    assert "The fee note says &lt;script&gt;" in report.html  # the cited document's lines
    prose = re.sub(r"(?ms)^( *)(`{3,}).*?^\1\2$", "", report.markdown)  # code is literal text
    prose = re.sub(r"(`+).+?\1", "", prose)  # so are code spans (`<code>` shows as written)
    assert "```" not in prose and not re.search(r"(?<!\\)<", prose)
    assert "Review \\<script>alert(1)\\</script>\\<img" in prose


def test_auto_goes_map_reduce_only_far_beyond_the_window(settings, store, counter):
    analyst = fake_analyst(settings, store, counter, FakeBackend())
    small = replace(analyst, _profile=replace(analyst.profile,
                                             max_model_len=900 + analyst.answer_budget))
    question = "What is the fee?"
    context = small.context("deal", question)
    assert context.mode == Mode.FOCUSED
    factor = context.collection_tokens / context.budget  # how many windows the collection is

    def decided(an, mode: Mode, map_reduce_factor: float) -> Mode:
        return an.plan("deal", question, mode, map_reduce_factor=map_reduce_factor)[0].mode

    assert decided(analyst, Mode.AUTO, factor - 0.5) == Mode.FULL  # fits: full
    assert decided(small, Mode.AUTO, factor + 0.5) == Mode.FOCUSED
    assert decided(small, Mode.AUTO, factor - 0.5) == Mode.MAP_REDUCE
    assert decided(small, Mode.AUTO, 0) == Mode.FOCUSED  # 0 turns it off
    assert decided(small, Mode.FOCUSED, factor - 0.5) == Mode.FOCUSED
    with pytest.raises(EngineError, match="does not fit"):
        decided(small, Mode.FULL, 0)
    assert decided(analyst, Mode.MAP_REDUCE, 0) == Mode.MAP_REDUCE


def test_modes_from_the_spec_reach_the_engine_and_the_usage_table(settings, store, counter):
    spec = parse_spec(SPEC.replace("      - What was revenue in Q4?",
                                   "      - question: What was revenue in Q4?\n"
                                   "        mode: map-reduce"), "x.yaml", ["deal"])
    analyst = fake_analyst(settings, store, counter, FakeBackend(default="Nothing [D1 p.1]."))
    small = replace(analyst, _profile=replace(analyst.profile,
                                             max_model_len=2200 + analyst.answer_budget))
    run = run_report(small, spec)
    assert [i.answer.mode for i in run.items] == [Mode.FOCUSED, Mode.FOCUSED, Mode.MAP_REDUCE]
    windows = len(small.backend.requests) - 3  # two questions and one combining request
    assert windows >= 2 and run.status == ReportStatus.OK


@pytest.fixture
def runner(tmp_path, monkeypatch, shared_models_dir):
    monkeypatch.setenv("DOCSCOUT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCSCOUT_WORKERS", "1")
    monkeypatch.setenv("DOCSCOUT_MODEL_PROFILE", "tiny-llama4")
    monkeypatch.setenv("DOCSCOUT_MODELS_DIR", str(shared_models_dir))
    get_settings.cache_clear()
    fake = FakeBackend(default="The fee is US$18,750 [D1 p.1].")
    monkeypatch.setattr("engine.service.make_backend", lambda profile, settings: fake)
    yield CliRunner()
    get_settings.cache_clear()


def test_report_command_writes_three_files_and_reports_lists_it(runner, tmp_path):
    spec = tmp_path / "deal.yaml"
    spec.write_text(SPEC)
    missing = runner.invoke(cli, ["report", str(spec), "--out", str(tmp_path / "out")])
    assert missing.exit_code == 1
    assert f"{spec}, line 2: no collection named 'deal'" in missing.output
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "contract.pdf"), "-c", "deal"])
    result = runner.invoke(cli, ["report", str(spec), "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok" and summary["questions"] == 3
    assert all((tmp_path / "out" / name).stat().st_size > 0
               for name in ("report.md", "report.html", "report.pdf"))
    listed = json.loads(runner.invoke(cli, ["reports", "deal", "--json"]).stdout)
    assert [(r["id"], r["title"]) for r in listed] == [(summary["id"], "Deal review")]
    table = runner.invoke(cli, ["reports"]).output
    assert "Deal review" in table and "ok" in table
    assert "no collection named 'other'" in runner.invoke(cli, ["reports", "other"]).output
