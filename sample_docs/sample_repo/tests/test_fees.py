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
