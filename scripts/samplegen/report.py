"""report.pdf: a five-page annual report for the fictional Quillfeather Robotics, Inc.

It exercises every PDF path DocScout has: flowing text on each page, a ruled table drawn
with vector lines (page 2, found by page.find_tables()), two raster charts inserted as PNG
(pages 3 and 4) and one vector pie chart drawn with pymupdf shapes (page 5). All the numbers
agree with each other, so questions can be checked against the table, the charts or the prose.
"""

from __future__ import annotations

import math
from pathlib import Path

import pymupdf

from . import charts
from .common import LETTER, Flow, footer, save_pdf

COMPANY = "Quillfeather Robotics, Inc."
FOOTER = f"{COMPANY} - Annual Report 2024"

QUARTERS = ["Q1", "Q2", "Q3", "Q4"]
# US$ millions; rows sum to the FY column and columns to the quarterly totals.
REGIONS = {
    "North America": [14.1, 16.0, 16.9, 18.7],
    "Europe": [9.3, 10.4, 11.2, 12.6],
    "Asia-Pacific": [5.6, 6.8, 7.5, 8.9],
    "Latin America": [2.2, 2.6, 2.8, 3.0],
}
QUARTER_TOTALS = [31.2, 35.8, 38.4, 43.2]  # FY2024 total 148.6
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
UNITS_SHIPPED = [38, 41, 45, 44, 52, 57, 61, 58, 66, 72, 79, 91]  # 704 in the year
PRODUCT_MIX = [  # label, US$ millions, share of revenue, RGB fill
    ("Wren-7 picking arms", 68.4, 46, (0.16, 0.38, 0.62)),
    ("Heron fleet software", 40.1, 27, (0.93, 0.55, 0.17)),
    ("Service contracts", 28.2, 19, (0.30, 0.62, 0.36)),
    ("Spare parts", 11.9, 8, (0.72, 0.26, 0.30)),
]


def revenue_chart_png() -> bytes:
    return charts.bar_chart(
        "Quillfeather Robotics - Revenue by Quarter, FY2024",
        "US$ millions, all regions (full year: $148.6 million)",
        [f"{q} 2024" for q in QUARTERS],
        QUARTER_TOTALS,
        xlabel="Fiscal quarter",
        ylabel="Revenue (US$ millions)",
        value_fmt="${:.1f}M",
        color=(46, 98, 158),
    )


def units_chart_png() -> bytes:
    return charts.line_chart(
        "Wren-7 Units Shipped per Month, 2024",
        "704 arms shipped in the year; Line 2 changeover in August",
        MONTHS,
        UNITS_SHIPPED,
        xlabel="Month (2024)",
        ylabel="Units shipped",
        color=(214, 120, 30),
    )


def _cover(page: pymupdf.Page) -> None:
    page.draw_rect(pymupdf.Rect(0, 0, LETTER[0], 150), color=None, fill=(0.12, 0.23, 0.38))
    page.insert_text((72, 78), COMPANY, fontname="hebo", fontsize=26, color=(1, 1, 1))
    page.insert_text((72, 110), "Annual Report 2024", fontname="helv", fontsize=18, color=(0.85, 0.9, 1))
    page.insert_text((72, 132), "Fiscal year ended December 31, 2024", fontname="helv", fontsize=10, color=(0.85, 0.9, 1))
    f = Flow(page, y=170)
    f.heading("Letter to Shareholders", gap_before=4)
    f.paragraph(
        "Dear shareholders, 2024 was the year Quillfeather Robotics grew from a promising "
        "automation supplier into a company that warehouse operators plan around. Revenue for "
        "the fiscal year reached $148.6 million, up 22% from $121.8 million in 2023, and we "
        "closed the year with net income of $12.3 million, our third consecutive profitable year."
    )
    f.paragraph(
        "Our flagship product, the Wren-7 warehouse picking arm, shipped 704 units during the "
        "year, more than in 2022 and 2023 combined. The second assembly line at our Brackenridge "
        "plant came online in August, and December set a monthly record of 91 arms shipped. "
        "Heron, the fleet software that schedules and monitors the arms, now runs in 63 "
        "customer sites across eleven countries."
    )
    f.paragraph(
        "In October we signed the largest order in our history: 150 Wren-7 arms for Kettering "
        "Provisions, to be delivered to its Columbus, Ohio distribution centre between the fourth "
        "quarter of 2024 and the second quarter of 2025. We also welcomed 88 new colleagues, "
        "ending the year with 412 employees, most of them engineers and manufacturing staff "
        "based in Dunmore Falls, Oregon, where the company has been headquartered since 2016."
    )
    f.paragraph(
        "None of this would have happened without our customers' patience while we scaled, and "
        "without the people on our factory floor. Thank you for your continued confidence."
    )
    f.paragraph("Marisol Okonkwo-Lind, Chief Executive Officer", gap_after=2)
    f.heading("2024 at a glance", size=13)
    facts = [
        ("Revenue", "$148.6 million (2023: $121.8 million)"),
        ("Net income", "$12.3 million"),
        ("Operating margin", "11.4%"),
        ("Wren-7 units shipped", "704"),
        ("Employees at year end", "412"),
        ("Customer sites running Heron", "63"),
    ]
    for label, value in facts:
        f.labelled(f"{label}:", value, gap_after=1)


def _table(page: pymupdf.Page, top: float) -> float:
    """Draw Table 1 with real vector rules; returns the y just below it."""
    cols = [72, 222, 285.6, 349.2, 412.8, 476.4, 540]
    header = ["Region", *QUARTERS, "FY2024"]
    rows = [[name, *[f"{v:.1f}" for v in vals], f"{sum(vals):.1f}"] for name, vals in REGIONS.items()]
    rows.append(["Total", *[f"{v:.1f}" for v in QUARTER_TOTALS], f"{sum(QUARTER_TOTALS):.1f}"])
    row_h = 20.0
    bottom = top + row_h * (len(rows) + 1)
    page.draw_rect(pymupdf.Rect(cols[0], top, cols[-1], top + row_h), color=None, fill=(0.87, 0.9, 0.94))
    page.draw_rect(pymupdf.Rect(cols[0], bottom - row_h, cols[-1], bottom), color=None, fill=(0.95, 0.95, 0.95))
    for i in range(len(rows) + 2):
        y = top + i * row_h
        page.draw_line((cols[0], y), (cols[-1], y), color=(0, 0, 0), width=0.8)
    for x in cols:
        page.draw_line((x, top), (x, bottom), color=(0, 0, 0), width=0.8)
    for r, cells in enumerate([header, *rows]):
        bold = r == 0 or r == len(rows)
        font = "hebo" if bold else "helv"
        y = top + r * row_h + 14
        for c, text in enumerate(cells):
            if c == 0:
                x = cols[0] + 6
            else:
                x = cols[c + 1] - 6 - pymupdf.get_text_length(text, fontname=font, fontsize=10)
            page.insert_text((x, y), text, fontname=font, fontsize=10)
    return bottom


def _financial_review(page: pymupdf.Page) -> None:
    f = Flow(page)
    f.heading("Financial Review", size=18, gap_before=0)
    f.paragraph(
        "Revenue grew in every quarter of 2024, from $31.2 million in the first quarter to "
        "$43.2 million in the fourth. North America remained our largest market at $65.7 million "
        "for the year, while Asia-Pacific was the fastest-growing region: its quarterly revenue "
        "rose from $5.6 million to $8.9 million as our Singapore service hub became fully staffed."
    )
    f.paragraph(
        "Table 1 breaks down revenue by region and quarter. Figures are in millions of US "
        "dollars and are unaudited for the quarterly columns; the full-year column agrees with "
        "the audited consolidated statements."
    )
    f.y += 14
    page.insert_text((72, f.y), "Table 1: Quarterly revenue by region, FY2024 (US$ millions)", fontname="hebo", fontsize=10)
    f.y = _table(page, f.y + 8) + 4
    f.paragraph(
        "Gross margin improved to 41.7% from 38.9%, mainly because the second Brackenridge line "
        "cut the assembly cost of each Wren-7 arm. Operating income was $16.9 million, an "
        "operating margin of 11.4%. Research and development spending rose to $21.9 million, "
        "or 14.7% of revenue, most of it on the next-generation Wren-9 gripper and on Heron's "
        "route planner."
    )
    f.paragraph(
        "We ended the year with $37.5 million in cash and no bank debt. Capital expenditure was "
        "$9.8 million, of which $6.2 million went to the new assembly line. The board has not "
        "declared a dividend for 2024 and intends to keep reinvesting cash in manufacturing "
        "capacity and product development."
    )
    f.heading("Customers", size=13)
    f.paragraph(
        "Our ten largest customers accounted for 38% of revenue, down from 45% in 2023; no single "
        "customer exceeded 9%. Average contract length for Heron subscriptions increased from 26 "
        "to 31 months, and renewals reached 94% of the contracts that came up for renewal."
    )


def _revenue_page(page: pymupdf.Page, png: bytes) -> None:
    f = Flow(page)
    f.heading("Revenue by Quarter", size=18, gap_before=0)
    f.paragraph(
        "Figure 1 shows total revenue for each quarter of 2024. The fourth quarter was the "
        "strongest in our history at $43.2 million, helped by the first deliveries under the "
        "Kettering Provisions order and by year-end purchases of spare parts."
    )
    rect = pymupdf.Rect(72, f.y + 6, 540, f.y + 6 + 468 * 0.7)
    page.insert_image(rect, stream=png)
    page.insert_text((72, rect.y1 + 16), "Figure 1: Revenue by quarter, FY2024 (raster chart).", fontname="helv", fontsize=9)
    f.y = rect.y1 + 26
    f.paragraph(
        "Seasonality in our business is modest. Customers tend to commission new equipment "
        "before the autumn peak in parcel volumes, which shifts some orders into the third "
        "quarter, but recurring Heron subscriptions and service contracts now make up 46% of "
        "revenue and smooth the quarterly pattern."
    )
    f.paragraph(
        "Order backlog at December 31, 2024 stood at $58.3 million, compared with $31.0 million "
        "a year earlier, of which about $22 million relates to the remaining Kettering Provisions "
        "deliveries."
    )


def _operations_page(page: pymupdf.Page, png: bytes) -> None:
    f = Flow(page)
    f.heading("Operations", size=18, gap_before=0)
    f.paragraph(
        "Our Brackenridge plant assembled every Wren-7 arm sold in 2024. Line 2 was commissioned "
        "during a two-week changeover in August, which explains the dip in shipments that month; "
        "from September both lines ran two shifts. Figure 2 shows monthly shipments."
    )
    rect = pymupdf.Rect(72, f.y + 6, 540, f.y + 6 + 468 * 0.7)
    page.insert_image(rect, stream=png)
    page.insert_text((72, rect.y1 + 16), "Figure 2: Wren-7 units shipped per month, 2024 (raster chart).", fontname="helv", fontsize=9)
    f.y = rect.y1 + 26
    f.heading("People", size=13)
    f.paragraph(
        "Headcount grew from 324 to 412 during the year. At December 31, 2024 we employed 168 "
        "people in engineering, 121 in manufacturing, 54 in sales and marketing, 39 in customer "
        "support and 30 in general and administrative roles. Voluntary staff turnover was 7.9%."
    )
    f.paragraph(
        "The plant recorded 1.1 million hours worked with two minor lost-time incidents, and in "
        "May it received ISO 45001 certification for occupational health and safety."
    )


def _pie(page: pymupdf.Page, center: pymupdf.Point, radius: float) -> None:
    """Vector pie chart: one filled sector per product line, percentage labels inside."""
    shape = page.new_shape()
    start = pymupdf.Point(center.x, center.y - radius)
    label_points, edges = [], []
    for _label, _value, share, rgb in PRODUCT_MIX:
        end = shape.draw_sector(center, start, 360 * share / 100)
        # No stroke here: draw_sector's path also holds the chord start->end, which a stroke
        # would show as a stray line across the slice (PyMuPDF 2.0, noted 2025-01).
        shape.finish(color=None, fill=rgb)
        mid = (start - center) + (end - center)
        mid = mid / abs(mid) if abs(mid) > 1e-6 else pymupdf.Point(0, -1)
        label_points.append(center + mid * radius * 0.62)
        edges.append(start)
        start = end
    for edge in edges:  # white separators between slices
        shape.draw_line(center, edge)
    shape.finish(color=(1, 1, 1), width=1.5)
    shape.draw_circle(center, radius)
    shape.finish(color=(0.3, 0.3, 0.3), width=0.8)
    shape.commit()
    for point, (_label, _value, share, _rgb) in zip(label_points, PRODUCT_MIX):
        text = f"{share}%"
        w = pymupdf.get_text_length(text, fontname="hebo", fontsize=12)
        page.insert_text((point.x - w / 2, point.y + 4), text, fontname="hebo", fontsize=12, color=(1, 1, 1))


def _product_page(page: pymupdf.Page) -> None:
    f = Flow(page)
    f.heading("Product Mix", size=18, gap_before=0)
    f.paragraph(
        "Figure 3 splits 2024 revenue by product line. Hardware is still the largest part of the "
        "business, but software and services together grew faster than arms for the second year "
        "running."
    )
    chart_top = f.y + 8
    page.draw_rect(pymupdf.Rect(72, chart_top, 540, chart_top + 250), color=(0.7, 0.7, 0.7), width=0.6)
    page.insert_text((86, chart_top + 20), "Revenue by product line, FY2024", fontname="hebo", fontsize=11)
    _pie(page, pymupdf.Point(190, chart_top + 138), 92)
    y = chart_top + 78
    for label, value, share, rgb in PRODUCT_MIX:
        page.draw_rect(pymupdf.Rect(318, y - 10, 330, y + 2), color=(0.2, 0.2, 0.2), fill=rgb, width=0.5)
        page.insert_text((338, y), f"{label}: ${value:.1f}M ({share}%)", fontname="helv", fontsize=10)
        y += 24
    page.insert_text((72, chart_top + 266), "Figure 3: Revenue by product line (vector chart).", fontname="helv", fontsize=9)
    f.y = chart_top + 276
    f.heading("Outlook for 2025", size=13)
    f.paragraph(
        "For fiscal 2025 we expect revenue between $172 million and $180 million, with the "
        "Kettering Provisions deliveries completing in the second quarter. We plan to launch the "
        "Wren-9 picking arm, with a 14 kg payload and a new soft gripper, in the third quarter of "
        "2025, and to open a sales office in Rotterdam to serve customers in the Benelux region."
    )
    f.heading("Principal risks", size=13)
    f.paragraph(
        "Our results depend on a small number of component suppliers, in particular for servo "
        "motors, where a single supplier provides about 70% of our needs. Warehouse automation "
        "budgets are sensitive to interest rates and to parcel volumes. We are qualifying a second "
        "servo supplier and expect it to be approved by mid-2025."
    )
    f.paragraph("Tobias Frenette, Chief Financial Officer - Dunmore Falls, Oregon, March 2025")


def build(path: Path, revenue_png: bytes) -> None:
    doc = pymupdf.open()
    for _ in range(5):
        doc.new_page(width=LETTER[0], height=LETTER[1])
    pages = list(doc)  # page objects taken before a later new_page() are orphaned, so fetch now
    _cover(pages[0])
    _financial_review(pages[1])
    _revenue_page(pages[2], revenue_png)
    _operations_page(pages[3], units_chart_png())
    _product_page(pages[4])
    for number, page in enumerate(pages, start=1):
        footer(page, FOOTER, number, len(pages))
    save_pdf(
        doc,
        path,
        title="Quillfeather Robotics, Inc. - Annual Report 2024",
        author="Quillfeather Robotics, Inc.",
        subject="Fictional annual report (DocScout sample document)",
    )
