"""The `docscout` command line: help everywhere, ingest, listings as tables and as JSON."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli import cli
from core.settings import get_settings

from .conftest import SAMPLE_DOCS


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCSCOUT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCSCOUT_WORKERS", "1")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_every_command_has_help_text(runner):
    assert cli.help
    for name, command in cli.commands.items():
        assert command.help and len(command.help) > 20, name
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"{name} {param.name}"


def test_ingest_then_list(runner):
    charts = SAMPLE_DOCS / "charts"
    result = runner.invoke(cli, ["ingest", str(charts), str(SAMPLE_DOCS / "contract.pdf"), "-c", "Deal"])
    assert result.exit_code == 0, result.output
    assert "3 documents into 'Deal': 3 ok" in result.output

    listed = json.loads(runner.invoke(cli, ["docs", "Deal", "--json"]).stdout)
    assert {d["source"] for d in listed} == {
        "contract.pdf", "charts/revenue_by_quarter.png", "charts/headcount_by_team.png"}
    contract = next(d for d in listed if d["source"] == "contract.pdf")
    assert contract["kind"] == "pdf" and contract["pages"] == 2 and contract["text_tokens"] > 500
    assert contract["status"] == "ok" and contract["error"] is None

    table = runner.invoke(cli, ["docs", "Deal"]).output
    assert "contract.pdf" in table and "image tokens" in table

    [coll] = json.loads(runner.invoke(cli, ["collections", "--json"]).output)
    assert coll["name"] == "Deal" and coll["documents"] == 3 and coll["image_tokens"] > 0

    again = runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "contract.pdf"), "-c", "Deal", "--json"])
    assert json.loads(again.output)[0]["status"] == "unchanged"


def test_failed_document_sets_exit_status_and_shows_error(runner, tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    result = runner.invoke(cli, ["ingest", str(bad), "-c", "x"])
    assert result.exit_code == 1
    assert "bad.pdf" in result.output and "failed" in result.output


def test_delete_and_unknown_collection(runner):
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "contract.pdf"), "-c", "Deal"])
    result = runner.invoke(cli, ["delete", "Deal", "contract.pdf", "--yes"])
    assert result.exit_code == 0
    assert json.loads(runner.invoke(cli, ["docs", "Deal", "--json"]).stdout) == []
    missing = runner.invoke(cli, ["docs", "Nope"])
    assert missing.exit_code == 1 and "no collection named 'Nope'" in missing.output


def test_errors_are_one_line_for_every_command(runner, monkeypatch):
    from core.errors import EngineError
    from engine.service import Analyst

    def fails(*_args, **_kwargs):
        raise EngineError("the model folder is missing: run `docscout ingest` first")

    monkeypatch.setattr(Analyst, "open", fails)
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "contract.pdf"), "-c", "Deal"])
    for args in (["context", "Deal", "fee?"], ["ask", "Deal", "fee?"], ["reports", "Nope"],
                 ["evals", "Nope"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, args
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, args
        assert "Traceback" not in result.output
    monkeypatch.setenv("DOCSCOUT_DATABASE_URL", "nosuchdb://host/docscout")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["collections"])
    assert result.exit_code == 1 and result.output.startswith("Error: cannot open the database")
    # A server that is not there: one line, and the password stays out of it.
    monkeypatch.setenv("DOCSCOUT_DATABASE_URL", "postgresql+psycopg://scout:s3cret@127.0.0.1:9/x")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["collections"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: cannot open the database postgresql+psycopg://scout:"
                                    "***@127.0.0.1:9/x: ") and "s3cret" not in result.output


@pytest.fixture
def tiny_runner(runner, monkeypatch, shared_models_dir):
    monkeypatch.setenv("DOCSCOUT_MODEL_PROFILE", "tiny-llama4")
    monkeypatch.setenv("DOCSCOUT_MODELS_DIR", str(shared_models_dir))
    get_settings.cache_clear()
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS), "-c", "Samples"])
    return runner


def test_context_json_shows_what_the_model_would_read(tiny_runner):
    result = tiny_runner.invoke(cli, ["context", "Samples", "monthly fee", "--budget", "2000",
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # warnings go to stderr
    assert report["mode"] == "focused" and report["budget"] == 2000
    assert set(report["items"][0]) == {"document", "page", "path", "line_start", "line_end",
                                       "kind", "tokens", "why"}
    corpus = sum(item["tokens"] for item in report["items"])
    assert corpus <= 2000 < report["total_tokens"]
    assert any(i["document"] == "sample_docs/contract.pdf" for i in report["items"])
    code = [i for i in report["items"] if i["path"]]
    assert all(i["document"] == "sample_docs/sample_repo" for i in code)
    table = tiny_runner.invoke(cli, ["context", "Samples", "monthly fee", "--budget", "2000"])
    assert "focused mode" in table.output


def test_ask_reports_an_unreachable_server_and_keeps_the_question(tiny_runner, monkeypatch):
    monkeypatch.setenv("DOCSCOUT_VLLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("DOCSCOUT_REQUEST_TIMEOUT_S", "5")
    get_settings.cache_clear()
    result = tiny_runner.invoke(cli, ["ask", "Samples", "What is the fee?"])
    assert result.exit_code == 1
    assert "Error: the model server at http://127.0.0.1:9/v1 is unreachable" in result.output
    from storage.repository import Store

    [kept] = Store(get_settings()).answers("Samples")
    assert kept.question == "What is the fee?" and "unreachable" in kept.error


def test_ask_starts_a_chat_that_chats_lists_and_chat_continues(runner, monkeypatch, counter):
    from engine.backends import FakeBackend
    from engine.service import Analyst

    from .conftest import fake_analyst

    backend = FakeBackend().enqueue("US$18,750 [D1 p.1].", "Net 30 days [D1 p.1].")
    monkeypatch.setattr(Analyst, "open",
                        lambda settings, store: fake_analyst(settings, store, counter, backend))
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "contract.pdf"), "-c", "Deal"])
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "scanned_memo.pdf"), "-c", "Other"])
    first = runner.invoke(cli, ["ask", "Deal", "What is the monthly fee?"])
    assert first.exit_code == 0, first.output
    assert "(chat 1: ask a follow-up with --chat 1)" in first.output
    second = runner.invoke(cli, ["ask", "Deal", "And when is it due?", "--chat", "1"])
    assert second.exit_code == 0, second.output
    assert [m["role"] for m in backend.requests[-1]] == ["system", "user", "assistant", "user"]
    listed = runner.invoke(cli, ["chats", "Deal", "--json"])
    [chat] = json.loads(listed.stdout)
    assert chat["id"] == 1 and chat["turns"] == 2 and chat["title"] == "What is the monthly fee?"
    table = runner.invoke(cli, ["chats", "Deal"]).output
    assert "What is the monthly fee?" in table and "turns" in table
    wrong = runner.invoke(cli, ["ask", "Other", "Who wrote it?", "--chat", "1"])
    assert wrong.exit_code == 1 and "another collection" in wrong.output
    missing = runner.invoke(cli, ["ask", "Deal", "Who wrote it?", "--chat", "99"])
    assert missing.exit_code == 1 and "Error: no chat with id 99" in missing.output


def test_eval_recall_at_prints_recall_per_budget_without_a_model(runner, monkeypatch, counter):
    from engine.backends import FakeBackend
    from engine.service import Analyst

    from .conftest import fake_analyst

    backend = FakeBackend()
    monkeypatch.setattr(Analyst, "open",
                        lambda settings, store: fake_analyst(settings, store, counter, backend))
    runner.invoke(cli, ["ingest", str(SAMPLE_DOCS / "contract.pdf"), "-c", "Deal"])
    facts = SAMPLE_DOCS / "eval" / "facts.yaml"
    result = runner.invoke(cli, ["eval", "Deal", str(facts), "--id", "contract-monthly-fee",
                                 "--recall-at", "300,100000"])
    assert result.exit_code == 0, result.output
    assert "evidence found" in result.output and "100%" in result.output
    as_json = runner.invoke(cli, ["eval", "Deal", str(facts), "--id", "contract-monthly-fee",
                                 "--recall-at", "100000", "--json"])
    [row] = json.loads(as_json.stdout)
    assert row["budget"] == 100000 and row["recall"] == 1.0 and backend.requests == []
    bad = runner.invoke(cli, ["eval", "Deal", str(facts), "--recall-at", "8K"])
    assert bad.exit_code == 2 and "--recall-at" in bad.output
