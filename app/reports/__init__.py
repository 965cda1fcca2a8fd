"""Batch reports over a collection: a YAML spec in, Markdown, HTML and PDF out (issue #5).

    spec.py       read and check a spec (frozen values; errors name the file and line)
    run.py        answer every question in one batch (Analyst.ask_many), with progress
    footnotes.py  citations as numbered footnotes: page thumbnails, passages, code lines
    render.py     Markdown and HTML (everything from the spec, model or documents escaped);
                  page_body and report_css: a stored report.html's body and its styles, for
                  a page that shows a report inside its own
    pdf.py        the HTML laid out as a PDF by PyMuPDF's Story
    service.py    run + render + store in one call; write the three files

The UI and the CLI use only what is exported here (and core.errors.SpecError for a bad spec).
"""

from app.reports.footnotes import Footnote
from app.reports.render import page_body, report_css
from app.reports.run import Progress, ReportItem, ReportRun, run_report
from app.reports.service import FILES, create_report, render_report, write_report
from app.reports.spec import Question, ReportSpec, Section, load_spec, parse_spec
from core.domain import Mode

__all__ = [
    "FILES",
    "Footnote",
    "Progress",
    "Question",
    "ReportItem",
    "ReportRun",
    "ReportSpec",
    "Section",
    "Mode",
    "create_report",
    "load_spec",
    "page_body",
    "report_css",
    "parse_spec",
    "render_report",
    "run_report",
    "write_report",
]
