"""The loop guard (engine/guard.py): loops are caught early, ordinary answers are not."""

from __future__ import annotations

import pytest

from engine.guard import looping, trim_loop

PARTIES = "The parties are:\n" + "".join(
    f"{n}. The Tobias Frenette Corporation\n" for n in range(1, 31))
SENTENCE = "The fee is US$18,750 [D3 p.1]. " + "It is due on the first day of each month. " * 5
CHARACTERS = "The answer is " + "fee " * 60
NUMBERED = "".join(f"- Payment {n} is due on day {n * 30}.\n" for n in range(1, 9))

ORDINARY = [
    "The monthly fee is US$18,750 [D3 p.1].",
    "| Region | Q1 | Q2 |\n| --- | --- | --- |\n" + "".join(
        f"| Region {n} | {n}.1 | {n}.2 |\n" for n in range(12)),
    "- Engineering: 168\n- Manufacturing: 121\n- Sales and marketing: 54\n- Support: 39\n"
    "- General and administrative: 30\n",
    "def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x + 2\n\n\ndef h(x):\n    return x * 3\n",
    "Clause 6 lets either party terminate for convenience on 45 days' notice [D3 p.1]. Clause 6 "
    "also lets either party terminate at once for an uncured material breach [D3 p.1].",
    "=" * 40 + "\nSummary\n" + "=" * 40,
]


@pytest.mark.parametrize("text", [PARTIES, SENTENCE, CHARACTERS, NUMBERED])
def test_loops_are_caught(text):
    assert looping(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_answers_are_not_loops(text):
    assert not looping(text)


def test_a_loop_is_caught_within_a_few_repeats():
    text = "The parties are:\n"
    for n in range(1, 31):
        text += f"{n}. The Tobias Frenette Corporation\n"
        if looping(text):
            break
    assert n <= 4


def test_trim_keeps_what_was_said_once():
    assert trim_loop(PARTIES) == "The parties are:\n1. The Tobias Frenette Corporation"
    assert trim_loop(SENTENCE) == ("The fee is US$18,750 [D3 p.1]. It is due on the first day "
                                   "of each month.")
    assert trim_loop(CHARACTERS) == "The answer is fee"
