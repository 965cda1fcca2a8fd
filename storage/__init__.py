"""Persistence only: the SQLAlchemy engine and migrations (db.py, migrations/), the ORM tables
(orm.py) and the `Store` repository (repository.py, assembled from sessions.py, documents.py,
history.py and reports.py), the one place that opens sessions. The values
it stores and returns are core.domain's.
"""
