"""Items, loans and the catalog that lends them out."""

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
        """Return the item and the late fee owed, in cents."""
        loan = self.loans.pop(barcode)
        return compute_late_fee(max(0, (today - loan.due).days))
