"""sample_repo/: a small Python project ("shelfmark", a lending tracker for a community library).

Besides its nine tracked files the script writes three files that the project's own
.gitignore excludes (a log, a build output and a secrets file with a fake token), so the
codebase ingester can be tested for honouring .gitignore. Because git applies nested
.gitignore files, the DocScout repository ignores those three as well.
"""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {}

FILES[".gitignore"] = """\
# Python
__pycache__/
*.pyc
.venv/
build/
dist/

# Local runtime files
*.log
secrets.env
"""

FILES["README.md"] = """\
# shelfmark

shelfmark tracks loans for the Alder Street Community Library: which member has which
item, when it is due back, and what late fee is owed when it comes back late.

## Late fees

`shelfmark.fees.compute_late_fee(days_overdue)` applies the library's rule:

- the first 3 days after the due date are a grace period and cost nothing;
- from day 4 the fee is $0.25 per overdue day (counting from day 4);
- the fee never exceeds $10.00 for a single loan.

Fees are returned as whole cents, so 10 days overdue costs 175 cents.

## Usage

```
pip install -e .
shelfmark fee 10          # prints: 10 days overdue -> $1.75
shelfmark due 2025-02-03  # prints the due date for a loan starting that day (21 days)
```

Run the tests with `pytest`.
"""

FILES["pyproject.toml"] = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "shelfmark"
version = "0.4.2"
description = "Loan and late-fee tracker for the Alder Street Community Library"
requires-python = ">=3.10"

[project.scripts]
shelfmark = "shelfmark.cli:main"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

FILES["shelfmark/__init__.py"] = """\
\"\"\"shelfmark: loan and late-fee tracking for a small lending library.\"\"\"

from shelfmark.catalog import Catalog, Item, Loan
from shelfmark.fees import LOAN_PERIOD_DAYS, compute_late_fee

__version__ = "0.4.2"
__all__ = ["Catalog", "Item", "Loan", "LOAN_PERIOD_DAYS", "compute_late_fee"]
"""

FILES["shelfmark/fees.py"] = """\
\"\"\"The library's late-fee rule, in one place so the desk and the website agree.\"\"\"

GRACE_DAYS = 3
DAILY_RATE_CENTS = 25
MAX_FEE_CENTS = 1000
LOAN_PERIOD_DAYS = 21


def compute_late_fee(days_overdue: int) -> int:
    \"\"\"Late fee in cents for an item returned `days_overdue` days after its due date.

    The first GRACE_DAYS days are free; each later day costs DAILY_RATE_CENTS, and the total
    is capped at MAX_FEE_CENTS. compute_late_fee(3) == 0, compute_late_fee(4) == 25,
    compute_late_fee(10) == 175 and anything from 43 days on costs the 1000-cent maximum.
    \"\"\"
    if days_overdue < 0:
        raise ValueError(f"days_overdue must not be negative, got {days_overdue}")
    chargeable = max(0, days_overdue - GRACE_DAYS)
    return min(chargeable * DAILY_RATE_CENTS, MAX_FEE_CENTS)


def format_cents(cents: int) -> str:
    \"\"\"1750 -> '$17.50'.\"\"\"
    return f"${cents // 100}.{cents % 100:02d}"
"""

FILES["shelfmark/catalog.py"] = """\
\"\"\"Items, loans and the catalog that lends them out.\"\"\"

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from shelfmark.fees import LOAN_PERIOD_DAYS, compute_late_fee


@dataclass(frozen=True)
class Item:
    barcode: str
    title: str


@dataclass(frozen=True)
class Loan:
    item: Item
    member_id: str
    start: date

    @property
    def due(self) -> date:
        return self.start + timedelta(days=LOAN_PERIOD_DAYS)


@dataclass
class Catalog:
    items: dict[str, Item] = field(default_factory=dict)
    loans: dict[str, Loan] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        self.items[item.barcode] = item

    def check_out(self, barcode: str, member_id: str, today: date) -> Loan:
        if barcode in self.loans:
            raise ValueError(f"{barcode} is already on loan")
        loan = Loan(self.items[barcode], member_id, today)
        self.loans[barcode] = loan
        return loan

    def check_in(self, barcode: str, today: date) -> int:
        \"\"\"Return the item and the late fee owed, in cents.\"\"\"
        loan = self.loans.pop(barcode)
        return compute_late_fee(max(0, (today - loan.due).days))
"""

FILES["shelfmark/cli.py"] = """\
\"\"\"Command line: `shelfmark fee DAYS` and `shelfmark due YYYY-MM-DD`.\"\"\"

from __future__ import annotations

import argparse
from datetime import date, timedelta

from shelfmark.fees import LOAN_PERIOD_DAYS, compute_late_fee, format_cents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shelfmark", description="Library loan helper")
    sub = parser.add_subparsers(dest="command", required=True)
    fee = sub.add_parser("fee", help="late fee for a number of overdue days")
    fee.add_argument("days", type=int)
    due = sub.add_parser("due", help="due date for a loan starting on a date")
    due.add_argument("start", type=date.fromisoformat)
    args = parser.parse_args(argv)
    if args.command == "fee":
        print(f"{args.days} days overdue -> {format_cents(compute_late_fee(args.days))}")
    else:
        print((args.start + timedelta(days=LOAN_PERIOD_DAYS)).isoformat())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
"""

FILES["tests/test_fees.py"] = """\
import pytest

from shelfmark.fees import compute_late_fee, format_cents


@pytest.mark.parametrize("days, cents", [(0, 0), (3, 0), (4, 25), (10, 175), (43, 1000), (90, 1000)])
def test_compute_late_fee(days, cents):
    assert compute_late_fee(days) == cents


def test_negative_days_rejected():
    with pytest.raises(ValueError):
        compute_late_fee(-1)


def test_format_cents():
    assert format_cents(175) == "$1.75"
"""

FILES["tests/test_catalog.py"] = """\
from datetime import date

import pytest

from shelfmark.catalog import Catalog, Item


def make_catalog():
    catalog = Catalog()
    catalog.add(Item("AS-00417", "The Orchard Keeper's Almanac"))
    return catalog


def test_due_date_is_21_days_after_checkout():
    loan = make_catalog().check_out("AS-00417", "M-2291", date(2025, 2, 3))
    assert loan.due == date(2025, 2, 24)


def test_check_in_late_charges_fee():
    catalog = make_catalog()
    catalog.check_out("AS-00417", "M-2291", date(2025, 2, 3))
    assert catalog.check_in("AS-00417", date(2025, 3, 6)) == 175  # 10 days late


def test_double_checkout_rejected():
    catalog = make_catalog()
    catalog.check_out("AS-00417", "M-2291", date(2025, 2, 3))
    with pytest.raises(ValueError):
        catalog.check_out("AS-00417", "M-3010", date(2025, 2, 4))
"""

# Written by the script, excluded by the .gitignore above: an ingester must skip all three.
IGNORED: dict[str, str] = {
    "debug.log": "2025-02-03 09:14:02 DEBUG loaded 1 item(s) from catalog.json\n"
    "2025-02-03 09:14:05 DEBUG IGNORED-FILE-MARKER: this log must never be ingested\n",
    "build/output.txt": "IGNORED-FILE-MARKER: build artefact, must never be ingested\n",
    "secrets.env": "# Fake value for tests; IGNORED-FILE-MARKER\nSHELFMARK_API_TOKEN=not-a-real-token-0000\n",
}


def build(root: Path) -> list[Path]:
    """Write the tracked files and the ignored ones; returns the ignored paths."""
    for rel, text in {**FILES, **IGNORED}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
    return [root / rel for rel in IGNORED]
