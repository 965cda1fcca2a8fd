"""Stored reports: save, list, read back and delete."""

from __future__ import annotations

from sqlalchemy import delete, select

from core.domain import RenderedReport, ReportInfo, ReportStatus, StoredReport
from core.errors import StorageError
from storage.orm import CollectionRow, ReportRow
from storage.sessions import Sessions


class ReportStore(Sessions):
    # -- reports ---------------------------------------------------------------------------------

    def save_report(self, collection: str, report: RenderedReport) -> ReportInfo:
        """Keep a rendered report (its spec, Markdown, HTML and PDF) with its collection."""
        with self._transaction() as session:
            row = ReportRow(
                collection_id=self._collection(session, collection).id,
                title=report.title,
                spec=report.spec,
                status=report.status.value,
                questions=report.questions,
                failed=report.failed,
                model=report.model,
                elapsed_s=report.elapsed_s,
                markdown=report.markdown,
                html=report.html,
                pdf=report.pdf,
            )
            session.add(row)
            session.flush()
            return _report_info(row, collection)

    def reports(self, collection: str | None = None) -> list[ReportInfo]:
        """Stored reports, newest first: all of them, or one collection's. The renderings
        stay in the database until `report(id)` asks for one."""
        query = select(ReportRow, CollectionRow.name).join(CollectionRow)
        with self._sessions() as session:
            if collection is not None:
                query = query.where(ReportRow.collection_id == self._collection(session,
                                                                                 collection).id)
            rows = session.execute(query.order_by(ReportRow.id.desc()))
            return [_report_info(row, name) for row, name in rows]

    def report(self, report_id: int) -> StoredReport | None:
        """A stored report with its renderings, or None when there is no such report."""
        with self._sessions() as session:
            found = session.execute(select(ReportRow, CollectionRow.name).join(CollectionRow)
                                    .where(ReportRow.id == report_id)).first()
            if found is None:
                return None
            row, name = found
            report = RenderedReport(row.title, row.spec, ReportStatus(row.status), row.questions,
                                    row.failed, row.model, row.elapsed_s, row.markdown,
                                    row.html, row.pdf)
            return StoredReport(_report_info(row, name), report)

    def delete_report(self, report_id: int) -> None:
        with self._transaction() as session:
            result = session.execute(delete(ReportRow).where(ReportRow.id == report_id))
            if result.rowcount == 0:
                raise StorageError(f"no report with id {report_id}")


def _report_info(row: ReportRow, collection: str) -> ReportInfo:
    return ReportInfo(row.id, collection, row.title, ReportStatus(row.status), row.questions,
                      row.failed, row.model, row.elapsed_s, row.created_at)
