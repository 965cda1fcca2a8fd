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
