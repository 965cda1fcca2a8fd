"""What serves users: the `docscout` command line (cli.py, tables.py), batch reports (reports/),
the Streamlit web UI (ui/), the UI's engine host (runtime.py) and citation evidence
(evidence.py). No business logic: it calls ingest, storage and engine.
"""
