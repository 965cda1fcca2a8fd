"""A report from spec to stored files: run, render in three formats, keep, write out.

    spec = load_spec("dd.yaml", collections=[c.name for c in store.collections()])
    stored = create_report(analyst, spec, on_progress=print)      # run, render, save
    write_report(stored.report, Path("out"))                      # report.md/.html/.pdf

The renderings are kept in the database with the spec they came from (Store.save_report), so a
report can be listed and downloaded later without running it again.
"""

from __future__ import annotations

from pathlib import Path

from app.reports.pdf import to_pdf
from app.reports.render import prepare, to_html, to_markdown
from app.reports.run import Progress, ReportRun, run_report
from app.reports.spec import ReportSpec
from core.domain import RenderedReport, StoredReport
from engine.service import Analyst
from storage.repository import Store

FILES = ("report.md", "report.html", "report.pdf")


def render_report(run: ReportRun, store: Store) -> RenderedReport:
    """A run in Markdown, HTML and PDF, with its citations resolved against `store`."""
    rendering = prepare(run, store)
    return RenderedReport(
        title=run.spec.title,
        spec=run.spec.text,
        status=run.status,
        questions=len(run.items),
        failed=len(run.failed),
        model=run.model,
        elapsed_s=run.elapsed_s,
        markdown=to_markdown(rendering),
        html=to_html(rendering),
        pdf=to_pdf(rendering),
    )


def create_report(analyst: Analyst, spec: ReportSpec, on_progress: Progress | None = None
                  ) -> StoredReport:
    """Run `spec`, render it and keep it with its collection."""
    run = run_report(analyst, spec, on_progress)
    total = len(run.items)
    if on_progress is not None:
        on_progress(total, total, "Rendering Markdown, HTML and PDF")
    report = render_report(run, analyst.store)
    info = analyst.store.save_report(spec.collection, report)
    if on_progress is not None:
        on_progress(total, total, f"Saved as report {info.id}")
    return StoredReport(info, report)


def write_report(report: RenderedReport, folder: Path) -> list[Path]:
    """report.md, report.html and report.pdf in `folder` (created when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    md, html, pdf = (folder / name for name in FILES)
    md.write_text(report.markdown, encoding="utf-8")
    html.write_text(report.html, encoding="utf-8")
    pdf.write_bytes(report.pdf)
    return [md, html, pdf]
