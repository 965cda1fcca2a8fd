"""A report over sample_docs on the real CPU engine (cpu-demo on vLLM): all three formats, the
PDF opened with PyMuPDF holding every heading and question, one batch sharing the collection's
prefix, and every citation of the report resolving to a page or file of the collection."""

from __future__ import annotations

import pymupdf
import pytest

from app.reports import FILES, create_report, load_spec, parse_spec, write_report
from core.domain import ReportStatus
from engine.service import Analyst

from .conftest import SAMPLE_DOCS

pytestmark = pytest.mark.vllm

# SmolLM2-135M rarely cites on its own; asked this way it answers with a page label.
CITING = """\
  - heading: Citing a page
    questions:
      - What is the monthly fee? Answer with the label of the page, e.g. [D3 p.1].
"""


@pytest.fixture
def store(samples_store):
    return samples_store


def test_a_report_over_sample_docs_in_three_formats(settings, store, cpu_demo, demo_tokenizer,
                                                    tmp_path):
    analyst = Analyst(settings.model_copy(update={"max_answer_tokens": 40}), store,
                      cpu_demo.profile, demo_tokenizer, cpu_demo)
    sample = load_spec(SAMPLE_DOCS / "reports" / "due_diligence.yaml", ["Samples"])
    spec = parse_spec(sample.text.rstrip() + "\n" + CITING, "due_diligence.yaml", ["Samples"])
    seen: list[tuple[int, int]] = []
    stored = create_report(analyst, spec, lambda done, total, message: seen.append((done, total)))
    assert stored.info.status == ReportStatus.OK, stored.report.markdown
    total = len(spec.questions)  # progress moved with each answer the engine finished
    assert [done for done, _ in seen if 0 < done < total], seen
    assert all(t == total for _, t in seen) and max(done for done, _ in seen) == total
    answers = [a for a in store.answers("Samples")][:len(spec.questions)][::-1]
    assert [a.question for a in answers] == [q.text for _, q in spec.questions]
    assert all(a.mode.value == "full" for a in answers)
    assert all(a.usage.cached_tokens >= 0.9 * a.usage.prompt_tokens for a in answers[1:])

    files = write_report(stored.report, tmp_path / "report")
    assert [f.name for f in files] == list(FILES) and all(f.stat().st_size > 0 for f in files)
    with pymupdf.open(files[2]) as pdf:
        # Story sets "ff" and "ffi" as ligatures; read them back as letters, as viewers do.
        flags = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES
        text = " ".join(" ".join(page.get_text(flags=flags) for page in pdf).split())
        png = tmp_path / "page1.png"
        pdf[0].get_pixmap(dpi=100).save(png)
    for section in spec.sections:
        assert section.heading in text
        for question in section.questions:
            assert " ".join(question.text.split()) in text, question.text

    pixmap = pymupdf.Pixmap(str(png))
    assert pixmap.width > 700 and len(set(pixmap.samples)) > 20  # drawn, not a blank page

    cited = [c for a in answers for c in a.citations]
    assert cited, "the citing question produced no citation"
    documents = {d.source: d for d in store.documents("Samples")}
    for citation in cited:
        if not citation.valid:
            assert f"points to nothing the model read — `{citation.label}`" in \
                stored.report.markdown
            continue
        document = documents[citation.document]
        if citation.page is not None:
            assert 1 <= citation.page <= (document.pages or 1)
            assert f"{citation.document}, page {citation.page} — `{citation.label}`" in \
                stored.report.markdown
        if citation.path not in (None, "."):
            paths = {s.locator.path for s in store.segments("Samples", citation.document)}
            assert citation.path in paths
    pages = {(c.document, c.page) for c in cited if c.valid and c.page is not None}
    assert len(pages) > 0 and stored.report.html.count("data:image/") >= len(pages)
