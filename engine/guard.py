"""The loop guard: tells when an answer being generated has started repeating itself.

Small models at greedy decoding fall into loops (the same sentence, list item or party name over
and over until the token limit). The backends call `looping(text)` on the text decoded so far,
after every step, and abort a request as soon as it answers True; the answer is then recorded as
stopped with the reason "loop", never shown or counted as a success.

Three signs, each cheap on the tail of the text and each chosen so that ordinary answers (tables,
lists of similar items, code) do not trip it:

- a periodic tail: the same unit of 1-400 characters repeated back to back, covering at least
  `MIN_PERIODIC_CHARS` characters and 3 units ("the fee is due. the fee is due. the fee...");
- a repeated line: among the last 16 non-blank lines, one line of 8+ letters occurring 4 times,
  compared without digits, list markers and case ("1. The Corp", "2. The Corp", ...);
- a repeated sentence: one sentence of 24+ characters occurring 3 times anywhere in the answer.
"""

from __future__ import annotations

import re
from collections import Counter

MIN_PERIODIC_CHARS = 160
MAX_PERIOD = 400
_TAIL = 2 * MAX_PERIOD + MIN_PERIODIC_CHARS
LINE_WINDOW = 16
LINE_REPEATS = 4
SENTENCE_REPEATS = 3
MIN_SENTENCE_CHARS = 24

_MARKER = re.compile(r"^\s*(?:[-*+•>]|\(?\d+[.)]|\(?[a-z][.)]|#+)\s+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")


def looping(text: str) -> bool:
    """Whether the text ends in, or is full of, repetition (see the module docstring)."""
    return (_periodic_tail(text) is not None or _repeated_line(text)
            or _repeated_sentence(text))


def _periodic_tail(text: str) -> int | None:
    """Where the second copy of a repeated unit at the end of `text` starts, or None."""
    tail = text[-_TAIL:]
    n = len(tail)
    if n < MIN_PERIODIC_CHARS:
        return None
    for period in range(1, min(MAX_PERIOD, n // 3) + 1):
        # The longest suffix with this period: compare each character with the one a period back.
        run = 0
        for i in range(n - 1, period - 1, -1):
            if tail[i] != tail[i - period]:
                break
            run += 1
        span = run + period
        if span >= MIN_PERIODIC_CHARS and span >= 3 * period and tail[-period:].strip():
            return len(text) - span + period
    return None


def _normal_line(line: str) -> str:
    line = _MARKER.sub("", line.strip())
    return _SPACE.sub(" ", _DIGITS.sub("#", line)).strip().lower()


def _repeated_line(text: str) -> bool:
    lines = [_normal_line(line) for line in text.splitlines() if line.strip()]
    recent = Counter(line for line in lines[-LINE_WINDOW:]
                     if sum(ch.isalpha() for ch in line) >= 8)
    return any(count >= LINE_REPEATS for count in recent.values())


def _repeated_sentence(text: str) -> bool:
    sentences = Counter(_SPACE.sub(" ", s).strip().lower() for s in _SENTENCE.findall(text))
    return any(count >= SENTENCE_REPEATS and len(s) >= MIN_SENTENCE_CHARS
               for s, count in sentences.items())


def trim_loop(text: str) -> str:
    """The text without its repetition: up to and including the first occurrence of the repeated
    unit (characters, line or sentence), so a stopped answer shows what was said once."""
    cut = _periodic_tail(text)
    if cut is not None:
        while cut < len(text) and text[cut] in ".,;:!?)]}\"'":  # the unit's own punctuation
            cut += 1
        text = text[:cut]
    lines = text.splitlines(keepends=True)
    seen: set[str] = set()
    kept: list[str] = []
    for line in lines:
        key = _normal_line(line)
        if key and sum(ch.isalpha() for ch in key) >= 8 and key in seen:
            break
        seen.add(key)
        kept.append(line)
    out = "".join(kept)
    sentences: set[str] = set()
    for match in _SENTENCE.finditer(out):
        key = _SPACE.sub(" ", match[0]).strip().lower()
        if len(key) >= MIN_SENTENCE_CHARS and key in sentences:
            return out[:match.start()].rstrip()
        sentences.add(key)
    return out.rstrip()
