"""The library's late-fee rule, in one place so the desk and the website agree."""

GRACE_DAYS = 3
DAILY_RATE_CENTS = 25
MAX_FEE_CENTS = 1000
LOAN_PERIOD_DAYS = 21


def compute_late_fee(days_overdue: int) -> int:
    """Late fee in cents for an item returned `days_overdue` days after its due date.

    The first GRACE_DAYS days are free; each later day costs DAILY_RATE_CENTS, and the total
    is capped at MAX_FEE_CENTS. compute_late_fee(3) == 0, compute_late_fee(4) == 25,
    compute_late_fee(10) == 175 and anything from 43 days on costs the 1000-cent maximum.
    """
    if days_overdue < 0:
        raise ValueError(f"days_overdue must not be negative, got {days_overdue}")
    chargeable = max(0, days_overdue - GRACE_DAYS)
    return min(chargeable * DAILY_RATE_CENTS, MAX_FEE_CENTS)


def format_cents(cents: int) -> str:
    """1750 -> '$17.50'."""
    return f"${cents // 100}.{cents % 100:02d}"
