"""Regenerate every file in sample_docs/ from code: `python scripts/make_samples.py`.

Uses only PyMuPDF and Pillow, and fixes every source of variation (PDF dates and ids, the
memo's noise seed), so a rerun on the same machine rewrites identical bytes. Each builder
lives in samplegen/, one module per document; this file only wires them to output paths.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Outputs always go to <repo>/sample_docs, so this script and samplegen/ can move together to
# another top-level folder (e.g. scripts/) without edits.
OUT = HERE.parent / "sample_docs"
sys.dont_write_bytecode = True  # keep samplegen/ free of __pycache__
sys.path.insert(0, str(HERE))  # run as a script from anywhere; samplegen/ sits next to this file

from samplegen import charts, contract, memo, report, repo  # noqa: E402
from samplegen.common import pil_font_name  # noqa: E402

OUTPUTS = [
    "report.pdf",
    "contract.pdf",
    "scanned_memo.pdf",
    "charts/revenue_by_quarter.png",
    "charts/headcount_by_team.png",
]
HEADCOUNT = {  # December 31, 2024; totals 412, matching report.pdf
    "Engineering": 168,
    "Manufacturing": 121,
    "Sales & Mktg": 54,
    "Support": 39,
    "G&A": 30,
}


def headcount_png() -> bytes:
    return charts.bar_chart(
        "Quillfeather Robotics - Headcount by Team",
        "Employees at December 31, 2024 (total: 412)",
        list(HEADCOUNT),
        list(HEADCOUNT.values()),
        xlabel="Team",
        ylabel="Employees",
        value_fmt="{:.0f}",
        color=(64, 140, 92),
    )


def main() -> int:
    chart_dir = OUT / "charts"
    chart_dir.mkdir(exist_ok=True)
    revenue_png = report.revenue_chart_png()
    (chart_dir / "revenue_by_quarter.png").write_bytes(revenue_png)
    (chart_dir / "headcount_by_team.png").write_bytes(headcount_png())
    report.build(OUT / "report.pdf", revenue_png)
    contract.build(OUT / "contract.pdf")
    memo.build(OUT / "scanned_memo.pdf")
    ignored = repo.build(OUT / "sample_repo")
    print(f"Pillow font: {pil_font_name()}")
    for name in OUTPUTS:
        print(f"wrote {name:32} {(OUT / name).stat().st_size:>8,} bytes")
    print("wrote sample_repo/ (9 tracked files)")
    print("ignored by sample_repo/.gitignore:", ", ".join(str(p.relative_to(OUT)) for p in ignored))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
