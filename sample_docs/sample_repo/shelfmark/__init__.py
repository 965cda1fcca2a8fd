"""shelfmark: loan and late-fee tracking for a small lending library."""

from shelfmark.catalog import Catalog, Item, Loan
from shelfmark.fees import LOAN_PERIOD_DAYS, compute_late_fee

__version__ = "0.4.2"
__all__ = ["Catalog", "Item", "Loan", "LOAN_PERIOD_DAYS", "compute_late_fee"]
