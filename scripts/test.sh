#!/usr/bin/env bash
# The whole test suite, every tier, on a fresh machine: install, then pytest; then the tests that
# touch the database a second time on a throwaway PostgreSQL server (Debian's, installed with apt
# when missing; skipped with the reason when it cannot be). Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
source scripts/postgres.sh
# The browser test drives Debian's chromium; without it that test says why it cannot run.
apt_tool chromium chromium "the browser test will be skipped"
# Every tier (pyproject's default selects only the fast one); a -m in "$@" comes later and wins.
.venv/bin/python -m pytest -m "" "$@"

# Storage, ingest pipeline, CLI, engine context and answers (with their history), and 8 concurrent
# ingest processes into one database, on PostgreSQL:
# the same tests, DOCSCOUT_TEST_DATABASE_URL pointing tests/conftest.py's database at the server.
POSTGRES_TESTS=(tests/test_storage.py tests/test_pipeline.py tests/test_cli.py
                tests/test_context.py tests/test_service.py tests/test_ocr_later.py
                tests/test_ingest_faults.py::test_eight_concurrent_ingests_of_one_folder_on_a_fresh_database)
if start_test_postgres; then
    .venv/bin/python -m pytest -m "" "${POSTGRES_TESTS[@]}" "$@"
fi
