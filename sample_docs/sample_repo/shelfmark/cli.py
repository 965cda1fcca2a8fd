"""Command line: `shelfmark fee DAYS` and `shelfmark due YYYY-MM-DD`."""

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
