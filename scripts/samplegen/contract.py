"""contract.pdf: a two-page services agreement with numbered clauses, set in Times.

The clauses carry the facts questions ask about (fee, payment days, notice period, governing
law, signatories); the signature block with drawn rules sits at the foot of page 2.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

from .common import LETTER, Flow, footer, save_pdf

PROVIDER = "Tidewell Analytics LLC"
CLIENT = "Marrowby Home Goods, Inc."
AGREEMENT_NO = "TWA-MSA-2025-017"

PAGE_1 = [
    ("1. Definitions.",
     "\"Services\" means the demand-forecasting and inventory analytics services described in "
     "Schedule A. \"Deliverables\" means the weekly forecast reports, dashboards and model "
     "documentation that the Provider prepares for the Client under this Agreement. \"Business "
     "Day\" means a day other than a Saturday, Sunday or public holiday in the State of Vermont."),
    ("2. Services.",
     "The Provider shall perform the Services with reasonable skill and care, through personnel "
     "who are suitably qualified. The Provider shall deliver each weekly forecast report no later "
     "than 10:00 a.m. Eastern Time every Monday, and shall name a lead analyst who will be the "
     "Client's main point of contact."),
    ("3. Term.",
     "This Agreement begins on March 3, 2025 (the \"Effective Date\") and continues for an initial "
     "term of twenty-four (24) months. It then renews automatically for successive renewal terms of "
     "twelve (12) months each, unless either party gives notice of non-renewal at least sixty (60) "
     "days before the end of the term then in effect."),
    ("4. Fees.",
     "In consideration of the Services, the Client shall pay the Provider a fixed monthly fee of "
     "US$18,750 (eighteen thousand seven hundred fifty US dollars), plus a one-time onboarding fee "
     "of US$6,400 invoiced on the Effective Date. The monthly fee may be increased once per "
     "renewal term by no more than four percent (4%), on ninety (90) days' written notice."),
    ("5. Payment Terms.",
     "The Provider shall invoice the monthly fee in advance on the first Business Day of each "
     "month. The Client shall pay each undisputed invoice within thirty (30) days of the invoice "
     "date by bank transfer. Late payments bear interest at one and one-quarter percent (1.25%) per "
     "month until paid. The Client shall notify the Provider of any disputed amount in writing "
     "within ten (10) days of receiving the invoice."),
    ("6. Termination.",
     "Either party may terminate this Agreement for convenience by giving the other party not less "
     "than forty-five (45) days' prior written notice. Either party may terminate this Agreement "
     "immediately by written notice if the other party commits a material breach and fails to cure "
     "it within fifteen (15) days after receiving written notice describing the breach. On "
     "termination the Client shall pay all fees accrued up to the termination date, and the "
     "Provider shall deliver all work in progress within ten (10) Business Days."),
]

PAGE_2 = [
    ("7. Confidentiality.",
     "Each party shall keep confidential all non-public information disclosed by the other party, "
     "including sales data, pricing and forecasting models, and shall use it only to perform this "
     "Agreement. These obligations survive for three (3) years after this Agreement ends. They do "
     "not apply to information that is or becomes public through no fault of the receiving party, "
     "or that must be disclosed by law, in which case the receiving party shall give prompt notice."),
    ("8. Data Protection.",
     "The Provider shall process Client data only on the Client's documented instructions, shall "
     "store it in data centres located in the United States, and shall notify the Client of any "
     "security incident affecting Client data within seventy-two (72) hours of becoming aware of it."),
    ("9. Limitation of Liability.",
     "Except for breaches of clause 7, neither party's total liability under this Agreement shall "
     "exceed the fees paid or payable in the twelve (12) months before the claim arose. Neither "
     "party is liable for indirect or consequential loss, including loss of profit."),
    ("10. Governing Law.",
     "This Agreement is governed by the laws of the State of Vermont, without regard to its "
     "conflict-of-laws rules. The parties submit to the exclusive jurisdiction of the state and "
     "federal courts located in Chittenden County, Vermont."),
    ("11. Entire Agreement.",
     "This Agreement, together with Schedule A, is the entire agreement between the parties about "
     "its subject matter. Any amendment must be in writing and signed by both parties."),
]

SIGNATORIES = [
    (PROVIDER, "Priya Castellanos-Webb", "Chief Operating Officer"),
    (CLIENT, "Desmond Arkwright", "Vice President, Operations"),
]


def _page_one(page: pymupdf.Page) -> None:
    title = "SERVICES AGREEMENT"
    w = pymupdf.get_text_length(title, fontname="tibo", fontsize=18)
    page.insert_text(((LETTER[0] - w) / 2, 80), title, fontname="tibo", fontsize=18)
    sub = f"Agreement No. {AGREEMENT_NO}"
    w = pymupdf.get_text_length(sub, fontname="tiro", fontsize=11)
    page.insert_text(((LETTER[0] - w) / 2, 98), sub, fontname="tiro", fontsize=11)
    f = Flow(page, y=112, body_font="tiro", bold_font="tibo", size=11)
    f.paragraph(
        f"This Services Agreement (the \"Agreement\") is made on March 3, 2025 between {PROVIDER}, "
        "a Vermont limited liability company with its office at 41 Lakeview Terrace, Burlington, "
        f"Vermont 05401 (the \"Provider\"), and {CLIENT}, a Delaware corporation with its office at "
        "900 Cooper Mill Road, Harrisburg, Pennsylvania 17101 (the \"Client\")."
    )
    f.paragraph(
        "The Client wishes to engage the Provider to forecast product demand across its retail "
        "stores, and the Provider is willing to do so on the terms below. The parties therefore "
        "agree as follows:"
    )
    for label, text in PAGE_1:
        f.labelled(label, text)


def _page_two(page: pymupdf.Page) -> None:
    f = Flow(page, y=64, body_font="tiro", bold_font="tibo", size=11)
    for label, text in PAGE_2:
        f.labelled(label, text)
    f.paragraph("IN WITNESS WHEREOF, the parties have signed this Agreement on the dates written below.")
    top = f.y + 24
    for i, (party, name, role) in enumerate(SIGNATORIES):
        x = 72 + i * 246
        page.insert_text((x, top), f"For {party}", fontname="tibo", fontsize=11)
        page.draw_line((x, top + 44), (x + 210, top + 44), color=(0, 0, 0), width=0.7)
        page.insert_text((x, top + 58), "Signature", fontname="tiro", fontsize=9)
        page.insert_text((x, top + 78), f"Name: {name}", fontname="tiro", fontsize=11)
        page.insert_text((x, top + 94), f"Title: {role}", fontname="tiro", fontsize=11)
        page.insert_text((x, top + 110), "Date: March 3, 2025", fontname="tiro", fontsize=11)


def build(path: Path) -> None:
    doc = pymupdf.open()
    for _ in range(2):
        doc.new_page(width=LETTER[0], height=LETTER[1])
    pages = list(doc)  # page objects taken before a later new_page() are orphaned, so fetch now
    _page_one(pages[0])
    _page_two(pages[1])
    for number, page in enumerate(pages, start=1):
        footer(page, f"Services Agreement {AGREEMENT_NO} - Confidential", number, len(pages))
    save_pdf(
        doc,
        path,
        title=f"Services Agreement {AGREEMENT_NO}: {PROVIDER} and {CLIENT}",
        author=PROVIDER,
        subject="Fictional services agreement (DocScout sample document)",
    )
