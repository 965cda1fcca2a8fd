"""DocScout's web UI: `streamlit run app/ui/main.py` (or `docscout ui`).

Pages are thin: they call ingest, engine and storage and show what comes back. One Store and one
engine per server process (app/ui/services.py); the engine loads in the background and its state
is always in the sidebar. A DocScout error a page lets through is shown as one line
(widgets.error_box) instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.ui.widgets import error_box
from core.errors import DocScoutError

# Not "pages": Streamlit would list a folder of that name itself.
PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="DocScout", page_icon=":material/search:", layout="wide")
page = st.navigation([
    st.Page(PAGES / "ask.py", title="Ask", icon=":material/chat:", default=True),
    st.Page(PAGES / "library.py", title="Library", icon=":material/library_books:"),
    st.Page(PAGES / "history.py", title="History", icon=":material/history:"),
    st.Page(PAGES / "reports.py", title="Reports", icon=":material/description:"),
])
try:
    page.run()
except DocScoutError as exc:  # the one place a page's DocScout error is shown; bugs still raise
    error_box(exc)
