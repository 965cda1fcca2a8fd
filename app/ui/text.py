"""Showing untrusted text safely. Answers echo document text, and documents come from anyone:
nothing they contain may become HTML, a link, an image fetched from the network, LaTeX, colour
directives or emoji codes. Every Markdown-active character is escaped, line breaks are kept."""

from __future__ import annotations

import re

_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=&])")


def plain(text: str) -> str:
    """`text` for `st.markdown`, shown literally as written."""
    escaped = _ACTIVE.sub(r"\\\1", text)
    return escaped.replace("\n", "  \n")


def plain_chunks(chunks):
    """`plain` over a stream of deltas (escaping is per character, so chunks may split
    anywhere)."""
    for chunk in chunks:
        yield plain(chunk)
