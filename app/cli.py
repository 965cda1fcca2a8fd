"""`docscout` command line: a thin edge over ingest and storage.

DocScout's own errors (core.errors) reach the user as one line, "Error: ...", and exit status 1:
`Commands.invoke` turns them into `click.ClickException`s for every command, here and nowhere
else. Every listing command takes `--json` for scripts; the human output is a plain aligned table.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from app.reports.spec import load_spec
from app.tables import (
    chat_rows,
    document_rows,
    format_answer,
    format_context,
    format_eval,
    format_report_summary,
    format_table,
    outcome_summary,
    report_rows,
)
from core.domain import Mode, Status
from core.errors import DocScoutError
from core.settings import get_settings
from engine.prompt import context_json
from ingest.pipeline import Outcome, ingest_paths, run_ocr, with_ocr
from storage.repository import Store


class Commands(click.Group):
    """The `docscout` group: a DocScoutError raised by any command becomes one line on stderr
    ("Error: ...") and exit status 1. Anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DocScoutError as exc:
            raise click.ClickException(str(exc)) from exc


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docscout")
def cli() -> None:
    """DocScout: ingest PDFs, chart images and codebases, then ask Llama 4 Scout about them.

    Data lives in DOCSCOUT_DATA_DIR (default ./data); see `docscout COMMAND --help`.
    """


@cli.command()
# No exists=True: a missing or unreadable path is a failed document of the batch, reported with
# the others, not a usage error that keeps the readable paths beside it out.
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--collection", "-c", required=True, help="Collection to add the documents to.")
@click.option("--workers", type=int, default=None, help="Parallel extraction processes (default: cores).")
@click.option("--replace", is_flag=True,
              help="Store new versions even where they read worse (partial) than the stored ones.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per document.")
def ingest(paths: tuple[Path, ...], collection: str, workers: int | None, replace: bool,
           as_json: bool) -> None:
    """Ingest PDFs, images, text, code folders and zip/tar archives into a collection.

    A file whose content is already stored is reported `unchanged` and costs nothing. One bad
    file (or a missing path) never stops the batch; the exit status is 1 when any document
    failed. A new version that reads worse than the stored one (partial where the stored one
    read fully) is not stored unless --replace.
    """
    settings = get_settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    store = Store(settings)
    with _progress_bar() as bar:
        outcomes = ingest_paths(list(paths), collection, store, settings, _follow(bar), replace,
                                ocr_later=settings.ocr_later)
    pending = [o.document for o in outcomes if o.document and o.document.ocr_pending]
    if pending:
        # Stored and searchable already; OCR of scanned pages and figures goes on here.
        pages = sum(d.ocr_pending for d in pending)
        click.echo(f"Stored. OCR of {pages} scanned or figure page(s) in {len(pending)} "
                   "document(s) follows; they can be asked already (Ctrl-C leaves the rest for "
                   f"`docscout ocr {collection}` or the web UI).", err=True)
        outcomes = with_ocr(outcomes, _run_ocr(store, settings, collection))
    if as_json:
        _echo_json([_outcome_json(o) for o in outcomes])
    else:
        click.echo(outcome_summary(outcomes, collection))
    if any(o.status == Status.FAILED for o in outcomes):
        sys.exit(1)


def _follow(bar, prefix: str = ""):
    """A pipeline progress callback that moves `bar` and names the document just done."""
    def progress(done: int, total: int, outcome: Outcome) -> None:
        bar.total = total
        bar.set_postfix_str(f"{prefix}{outcome.source[-(40 - len(prefix)):]}", refresh=False)
        bar.update(done - bar.n)

    return progress


def _run_ocr(store: Store, settings, collection: str | None) -> list[Outcome]:
    with _progress_bar() as bar:
        return run_ocr(store, settings, collection, _follow(bar, "OCR "))


@cli.command()
@click.argument("collection", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per document.")
def ocr(collection: str | None, as_json: bool) -> None:
    """OCR the documents stored with their OCR still pending (an ingest interrupted while
    reading scanned pages and figures), in COLLECTION or in all collections."""
    settings = get_settings()
    store = Store(settings)
    outcomes = _run_ocr(store, settings, collection)
    if as_json:
        _echo_json([_outcome_json(o) for o in outcomes])
    elif not outcomes:
        click.echo("Nothing waits for OCR.")
    else:
        click.echo(outcome_summary(outcomes, collection or "every collection"))
    if any(o.status == Status.FAILED for o in outcomes):
        sys.exit(1)


def _progress_bar():
    from tqdm import tqdm

    return tqdm(total=0, unit="doc", file=sys.stderr, disable=None, dynamic_ncols=True)


def _outcome_json(outcome: Outcome) -> dict:
    doc = outcome.document
    return {
        "source": outcome.source,
        "status": outcome.status.value,
        "kind": outcome.kind.value if outcome.kind else None,
        "error": outcome.error,
        "note": outcome.note,
        "pages": doc.pages if doc else None,
        "files": doc.files if doc else None,
        "text_tokens": doc.text_tokens if doc else 0,
        "image_tokens": doc.image_tokens if doc else 0,
        "ocr_pending": doc.ocr_pending if doc else 0,
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def collections(as_json: bool) -> None:
    """List collections with their document and token counts."""
    infos = Store(get_settings()).collections()
    if as_json:
        _echo_json([asdict(i) for i in infos])
        return
    if not infos:
        click.echo("No collections yet: `docscout ingest PATH --collection NAME` creates one.")
        return
    rows = [[i.name, i.documents, i.text_tokens, i.image_tokens, i.failed] for i in infos]
    click.echo(format_table(["collection", "docs", "text tokens", "image tokens", "failed"], rows))


@cli.command()
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def docs(collection: str, as_json: bool) -> None:
    """List the documents of a collection: kind, pages or files, tokens, status and error."""
    documents = Store(get_settings()).documents(collection)
    if as_json:
        _echo_json([asdict(d) for d in documents])
        return
    click.echo(format_table(*document_rows(documents)))


@cli.command()
@click.argument("collection")
@click.argument("source", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(collection: str, source: str | None, yes: bool) -> None:
    """Delete one document (SOURCE, as `docscout docs` lists it) or a whole collection."""
    what = f"document {source!r} from {collection!r}" if source else f"collection {collection!r}"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    store = Store(get_settings())
    store.delete_document(collection, source) if source else store.delete_collection(collection)
    click.echo(f"Deleted {what}.")


@cli.command()
@click.argument("collection")
@click.argument("question")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default="auto",
              help="auto (or focused): the whole collection when it fits, else its most relevant "
              "pages and files; full: the whole collection or an error; map-reduce: read every "
              "window of a collection far beyond the model's window.")
@click.option("--document", "-d", "documents", multiple=True,
              help="Read only this document (its source, as `docscout docs` lists it; "
              "repeatable).")
@click.option("--chat", "chat_id", type=int, default=None,
              help="Continue this conversation (its id, as `docscout chats` lists it): the "
              "question is answered with its earlier turns. Without it, a new chat starts.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer and its usage as JSON.")
def ask(collection: str, question: str, mode: str, documents: tuple[str, ...],
        chat_id: int | None, as_json: bool) -> None:
    """Answer QUESTION from the documents of COLLECTION, with citations and a usage footer.

    The model is the configured profile (DOCSCOUT_MODEL_PROFILE), or the vLLM server at
    DOCSCOUT_VLLM_BASE_URL. The answer is kept in the collection's history, as a turn of a
    chat (a new one unless --chat names one; the web UI lists them too). Ctrl-C stops the
    answer at once (the engine is freed; the partial answer is kept, marked stopped).
    """
    store = Store(get_settings())
    if chat_id is not None and store.chat(chat_id).collection != collection:
        raise click.ClickException(f"chat {chat_id} is a conversation with another collection")
    analyst = _analyst(store)
    chat = store.chat(chat_id) if chat_id is not None else store.start_chat(collection, question)
    streamed = not as_json and sys.stdout.isatty()
    try:
        answer = analyst.ask(collection, question,
                             mode=Mode(mode),
                             on_delta=(lambda d: click.echo(d, nl=False)) if streamed else None,
                             documents=list(documents) or None, chat=chat.id)
    except KeyboardInterrupt:
        click.echo("\nStopped: the answer was cancelled.", err=True)
        sys.exit(130)
    if as_json:
        _echo_json(asdict(answer))
    else:
        click.echo(format_answer(answer, streamed=streamed))
        click.echo(f"(chat {chat.id}: ask a follow-up with --chat {chat.id})", err=True)
    if answer.error:
        sys.exit(1)


@cli.command()
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def chats(collection: str, as_json: bool) -> None:
    """List the conversations with COLLECTION, the latest active first (continue one with
    `docscout ask COLLECTION QUESTION --chat ID`)."""
    infos = Store(get_settings()).chats(collection, limit=200)
    if as_json:
        _echo_json([asdict(c) for c in infos])
    elif not infos:
        click.echo("No chats yet: `docscout ask COLLECTION QUESTION` starts one.")
    else:
        click.echo(format_table(*chat_rows(infos)))


@cli.command()
@click.argument("collection")
@click.argument("question")
@click.option("--budget", type=int, default=None,
              help="Tokens the documents may take (default: what the model's window leaves).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def context(collection: str, question: str, budget: int | None, as_json: bool) -> None:
    """Show, without calling a model, exactly what the model would read for QUESTION."""
    analyst = _analyst()
    chosen = analyst.context(collection, question, budget)
    report = context_json(chosen, overhead_tokens=analyst.overhead(question, chosen.mode))
    if as_json:
        _echo_json(report)
    else:
        click.echo(format_context(report))


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.md, report.html and report.pdf (created when missing).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the stored report's summary and the files written as JSON.")
def report(spec: Path, out: Path, as_json: bool) -> None:
    """Answer every question of the report SPEC (YAML) and write it as Markdown, HTML and PDF.

    All questions go to the model in one batch, so the collection is read once. The report is
    also stored (see `docscout reports`). A question that fails is listed in the report with
    its error; the exit status is then 1. See README, "Reports", for the spec format.
    """
    from app.reports.service import create_report, write_report

    settings = get_settings()
    store = Store(settings)
    report_spec = load_spec(spec, collections=[c.name for c in store.collections()])
    analyst = _analyst(store)
    stored = create_report(analyst, report_spec, on_progress=_report_progress)
    files = write_report(stored.report, out)
    if as_json:
        _echo_json({**asdict(stored.info), "files": [str(f) for f in files]})
    else:
        click.echo(format_report_summary(stored.info, files))
    if stored.info.failed:
        sys.exit(1)


def _report_progress(done: int, total: int, message: str) -> None:
    click.echo(f"[{done}/{total}] {message}", err=True)


@cli.command()
@click.argument("collection", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def reports(collection: str | None, as_json: bool) -> None:
    """List stored reports, newest first: all of them, or those of COLLECTION."""
    infos = Store(get_settings()).reports(collection)
    if as_json:
        _echo_json([asdict(i) for i in infos])
    elif not infos:
        click.echo("No reports yet: `docscout report SPEC --out DIR` makes one.")
    else:
        click.echo(format_table(*report_rows(infos)))


@cli.command("eval")
@click.argument("collection")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--per-document", type=int, default=None,
              help="At most this many questions per document (MMLongBench-Doc sets).")
@click.option("--limit", type=int, default=None, help="At most this many questions.")
@click.option("--id", "ids", multiple=True, help="Only these question ids (repeatable).")
@click.option("--recall-at", "recall_budgets", default=None, metavar="TOKENS,...",
              help="Only measure what packing finds: the share of questions whose evidence is "
              "all in the context at each of these budgets (e.g. 8000,32000), and the pages "
              "read; no model is called and nothing is stored.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and results as JSON.")
def evaluate_command(collection: str, questions: Path, per_document: int | None,
                     limit: int | None, ids: tuple[str, ...], recall_budgets: str | None,
                     as_json: bool) -> None:
    """Score COLLECTION's answers against a question set (YAML/JSON, or MMLongBench-Doc's
    samples.json): correctness, evidence in the context, citations, stop reasons and times.

    Questions are asked one at a time on the configured model; the run is stored (see
    `docscout evals`), its answers are not added to the history.
    """
    from engine.evaluate import evaluate, load_question_set, recall_at, select

    question_set = load_question_set(questions)
    chosen = select(question_set.questions, per_document=per_document, limit=limit,
                    ids=list(ids) or None)
    analyst = _analyst()
    if recall_budgets is not None:
        try:
            budgets = [int(b) for b in recall_budgets.split(",") if b.strip()]
        except ValueError as exc:
            raise click.BadParameter("a comma-separated list of token counts",
                                     param_hint="--recall-at") from exc
        rows = recall_at(analyst, collection, chosen, budgets)
        if as_json:
            _echo_json([{**asdict(r), "recall": r.recall} for r in rows])
        else:
            click.echo(format_table(
                ["budget", "questions", "evidence found", "recall", "pages read (median)"],
                [[r.budget, r.questions, r.found, f"{r.recall:.0%}" if r.recall is not None
                  else "n/a", r.pages_read_median] for r in rows]))
            if rows and rows[0].by_label:
                click.echo(f"{rows[0].by_label} question(s) cite pages beyond the last page of "
                           "their document: read as the PDF's printed page labels")
            if rows and rows[0].outside:
                click.echo(f"left out: {rows[0].outside} question(s) whose evidence names a page "
                           "beyond the last page of its document")
        return

    def progress(done: int, total: int, result) -> None:
        mark = "ok" if result.correct else "WRONG"
        click.echo(f"[{done}/{total}] {mark:5} {result.question.id}: "
                   f"{(result.answer.text or result.answer.error or '').strip()[:90]!r}", err=True)

    run = evaluate(analyst, collection, question_set, chosen, on_result=progress)
    rows = [r.as_json() for r in run.results]
    summary = run.summary()
    stored = analyst.store.save_eval_run(collection, question_set.name, run.model,
                                         summary, rows)
    if as_json:
        _echo_json({"run": stored.id, "question_set": question_set.name, "model": run.model,
                    "summary": summary, "results": rows})
    else:
        click.echo(format_eval(summary, rows, stored.id))


@cli.command()
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evals(collection: str, as_json: bool) -> None:
    """List the stored evaluation runs of COLLECTION, newest first."""
    runs = Store(get_settings()).eval_runs(collection)
    if as_json:
        _echo_json([asdict(r) for r in runs])
        return
    rows = [[r.id, r.question_set, r.model, r.created_at.strftime("%Y-%m-%d %H:%M")
             if r.created_at else "", r.summary.get("questions"),
             f"{r.summary.get('correct')}/{r.summary.get('answerable')}",
             f"{r.summary.get('said_not_found')}/{r.summary.get('unanswerable')}",
             r.summary.get("loops")] for r in runs]
    click.echo(format_table(["id", "question set", "model", "created", "questions",
                             "correct", "said not found", "loops"], rows))


@cli.group()
def engine() -> None:
    """The model engine: serve a model profile over vLLM's OpenAI-compatible API."""


@engine.command()
@click.option("--profile", default=None,
              help="scout, scout-int4, scout-fp8, maverick, cpu, cpu-demo, tiny-llama4 or a model "
              "folder (default: DOCSCOUT_MODEL_PROFILE).")
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8000, type=int, help="Port to listen on.")
@click.argument("vllm_flags", nargs=-1, type=click.UNPROCESSED)
def serve(profile: str | None, host: str, port: int, vllm_flags: tuple[str, ...]) -> None:
    """Start vLLM's OpenAI-compatible server for a model profile (CPU or GPU).

    Point DocScout at it with DOCSCOUT_VLLM_BASE_URL=http://HOST:PORT/v1. Flags after `--` go
    to `vllm serve` as they are, after the profile's own:
    `docscout engine serve --profile scout -- --max-num-seqs 8`.
    """
    from engine.profiles import resolve_profile
    from engine.server import serve as run_server

    settings = get_settings()
    if profile:
        settings = settings.model_copy(update={"model_profile": profile})
    run_server(resolve_profile(settings), settings, host, port, vllm_flags)


@cli.command()
@click.option("--host", default="127.0.0.1", help="Address to listen on (localhost by default).")
@click.option("--port", default=8501, type=int, help="Port to listen on.")
def ui(host: str, port: int) -> None:
    """Start the web UI (Streamlit) for analysts on http://HOST:PORT.

    The engine (DOCSCOUT_MODEL_PROFILE, or the server at DOCSCOUT_VLLM_BASE_URL) loads in the
    background; the page shows its state. Uploads are limited by DOCSCOUT_MAX_UPLOAD_MB.
    """
    import os

    script = Path(__file__).resolve().parent / "ui" / "main.py"
    settings = get_settings()
    args = [sys.executable, "-m", "streamlit", "run", str(script),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--server.maxUploadSize", str(settings.max_upload_mb),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            # Users get no Deploy button and no "Clear cache" (which reloads the engine for all)
            "--client.toolbarMode", "viewer"]
    click.echo(f"DocScout UI on http://{host}:{port}  (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execv(sys.executable, args)


def _analyst(store: Store | None = None):
    from engine.service import Analyst

    settings = get_settings()
    return Analyst.open(settings, store or Store(settings))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
