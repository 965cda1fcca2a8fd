"""Answer-quality benchmark: prints its figures and whether each target is met.

    python bench/answers.py [--facts-only | --mmlb-only] [--mmlb-per-document 2]
                            [--profiles cpu,cpu-demo] [--save runs.json]

1. The sample fact set (sample_docs/eval/facts.yaml) over sample_docs, with `docscout eval`'s
   code, for each profile (default: cpu and the old cpu-demo side by side). Targets for `cpu`:
   >= 85% correct on answerable questions, >= 75% "not in the documents" on unanswerable ones,
   0 loops, >= 90% of correct answers with a valid citation (own or inferred) to the evidence.
2. Speed of `cpu` over sample_docs: cold time to first token (first question, nothing cached),
   warm (the next question, its prefix cached), and decode speed (completion tokens per second
   after the first token, over the fact set's answers).
3. ../shared/mmlb-dev (MMLongBench-Doc development split, read in place, never copied): answer
   accuracy and evidence recall of `cpu` per answer format, N questions per document (default 2:
   60 questions), each asked of its own document. Skipped with a reason when the split is absent.

Each profile runs in its own process (one vLLM engine per process on CPU), in a throw-away data
folder; models are built once into the shared models folder (DOCSCOUT_MODELS_DIR, default
data/models).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FACTS = ROOT / "sample_docs" / "eval" / "facts.yaml"
MMLB = ROOT.parent / "shared" / "mmlb-dev"


def _worker(args: argparse.Namespace) -> None:
    """One profile, one question set, in this process: prints one JSON line."""
    from core.settings import Settings
    from engine.evaluate import evaluate, load_question_set, select
    from engine.service import Analyst
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    settings = Settings(data_dir=Path(args.data), model_profile=args.profile,
                        models_dir=Path(args.models), request_timeout_s=900,
                        max_model_len=args.max_model_len)
    store = Store(settings)
    started = time.perf_counter()
    ingest_paths([Path(p) for p in args.inputs], "bench", store, settings)
    ingest_s = time.perf_counter() - started
    question_set = load_question_set(Path(args.questions))
    chosen = select(question_set.questions, per_document=args.per_document)
    analyst = Analyst.open(settings, store)
    started = time.perf_counter()
    analyst.backend  # the model load, timed apart from the answers
    load_s = time.perf_counter() - started
    def progress(n: int, total: int, result) -> None:
        print(f"  [{args.profile} {n}/{total}] {'ok' if result.correct else 'WRONG':5} "
              f"{result.question.id} {result.answer.stop_reason} "
              f"{result.answer.usage.total_time_s:.1f}s", file=sys.stderr, flush=True)
        print("ROW " + json.dumps(result.as_json()), file=sys.stderr, flush=True)  # partial runs

    run = evaluate(analyst, "bench", question_set, chosen, on_result=progress)
    rows = [r.as_json() for r in run.results]
    print(json.dumps({"profile": args.profile, "ingest_s": ingest_s, "load_s": load_s,
                      "max_model_len": analyst.profile.max_model_len,
                      "summary": run.summary(), "results": rows}))


def _run(profile: str, inputs: list[Path], questions: Path, per_document: int | None,
         models: Path, max_model_len: int | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="docscout-bench-") as data:
        command = [sys.executable, __file__, "--worker", "--profile", profile, "--data", data,
                   "--models", str(models), "--questions", str(questions),
                   *(["--per-document", str(per_document)] if per_document else []),
                   *(["--max-model-len", str(max_model_len)] if max_model_len else []),
                   *map(str, inputs)]
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _check(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _facts_table(runs: list[dict]) -> None:
    print("\n1. Sample fact set (sample_docs/eval/facts.yaml, "
          f"{runs[0]['summary']['questions']} questions)")
    header = f"{'':38}" + "".join(f"{r['profile']:>12}" for r in runs)
    print(header)

    def line(label: str, values: list[str]) -> None:
        print(f"{label:38}" + "".join(f"{v:>12}" for v in values))

    s = [r["summary"] for r in runs]
    line("answerable correct", [f"{x['correct']}/{x['answerable']}" for x in s])
    line("  accuracy", [_percent(x["accuracy"]) for x in s])
    line("unanswerable: said not found", [f"{x['said_not_found']}/{x['unanswerable']}" for x in s])
    line("  rate", [_percent(x["not_found_rate"]) for x in s])
    line("loops", [str(x["loops"]) for x in s])
    line("other failures (timeout, empty, error)",
         [str(sum(v for k, v in x["stop_reasons"].items() if k not in ("stop", "length", "loop")))
          for x in s])
    line("correct answers citing the evidence", [_percent(x["correct_citing_evidence"]) for x in s])
    line("answers with the model's own citation", [_percent(x["own_citation_rate"]) for x in s])
    line("first token, median (s)", [str(x["ttft_median_s"]) for x in s])
    line("answer, median (s)", [str(x["total_median_s"]) for x in s])
    for tag in s[0]["by_tag"]:
        line(f"  {tag}", [f"{x['by_tag'][tag]['correct']}/{x['by_tag'][tag]['questions']}"
                          for x in s])
    cpu = next((r["summary"] for r in runs if r["profile"] == "cpu"), None)
    if cpu:
        print(f"targets (cpu): accuracy >= 85% {_check((cpu['accuracy'] or 0) >= 0.85)}; "
              f"not found >= 75% {_check((cpu['not_found_rate'] or 0) >= 0.75)}; "
              f"0 loops {_check(cpu['loops'] == 0)}; "
              f"citing evidence >= 90% {_check((cpu['correct_citing_evidence'] or 0) >= 0.9)}")


def _speed(run: dict) -> None:
    rows = run["results"]
    cold = rows[0]
    warm = [r for r in rows[1:] if r["time_to_first_token_s"] is not None]
    decode = [(r["completion_tokens"] - 1) / (r["total_time_s"] - r["time_to_first_token_s"])
              for r in warm if r["completion_tokens"] > 8
              and r["total_time_s"] > r["time_to_first_token_s"]]
    warm_ttft = sorted(r["time_to_first_token_s"] for r in warm)
    cached = sorted(r["cached_tokens"] / r["prompt_tokens"] for r in warm if r["prompt_tokens"])
    print(f"\n2. Speed of {run['profile']} over sample_docs (model load {run['load_s']:.0f} s)")
    print(f"   cold first token {cold['time_to_first_token_s']:.1f} s for a "
          f"{cold['prompt_tokens']:,}-token prompt "
          f"({cold['prompt_tokens'] / cold['time_to_first_token_s']:.0f} prompt tokens/s)")
    if warm_ttft:
        print(f"   warm first token median {warm_ttft[len(warm_ttft) // 2]:.2f} s "
              f"(cached share median {cached[len(cached) // 2]:.1%})")
    if decode:
        decode.sort()
        print(f"   decode median {decode[len(decode) // 2]:.1f} tokens/s over {len(decode)} "
              "answers")


def _mmlb_table(run: dict) -> None:
    s = run["summary"]
    window = f", window {run['max_model_len']:,} tokens" if run.get("max_model_len") else ""
    print(f"\n3. mmlb-dev, {run['profile']}{window}: {s['questions']} questions "
          f"(ingest {run['ingest_s']:.0f} s, answers {s['elapsed_s']:.0f} s)")
    print(f"   answer accuracy (all questions) {_percent(s['overall_accuracy'])}; answerable "
          f"{s['correct']}/{s['answerable']} {_percent(s['accuracy'])}; not answerable said so "
          f"{s['said_not_found']}/{s['unanswerable']}")
    print(f"   evidence recall {_percent(s['evidence_recall'])} "
          f"(median {s['pages_read_median']} pages read); loops {s['loops']}")
    print(f"   {'answer format':16}{'questions':>10}{'accuracy':>10}{'evidence recall':>17}")
    for tag, t in s["by_tag"].items():
        if tag.startswith("format:"):
            print(f"   {tag[7:]:16}{t['questions']:>10}{_percent(t['accuracy']):>10}"
                  f"{_percent(t['evidence_recall']):>17}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--data")
    parser.add_argument("--models", default=os.environ.get("DOCSCOUT_MODELS_DIR",
                                                           str(ROOT / "data" / "models")))
    parser.add_argument("--questions")
    parser.add_argument("--per-document", type=int, default=None)
    parser.add_argument("inputs", nargs="*")
    parser.add_argument("--profiles", default="cpu,cpu-demo",
                        help="profiles for the fact set (the first one also gets 2. and 3.)")
    # --facts-only and --mmlb-only split the run in two (mmlb-dev takes ~1 hour on 2 cores).
    parser.add_argument("--facts-only", action="store_true", help="skip mmlb-dev")
    parser.add_argument("--mmlb-only", action="store_true", help="only mmlb-dev (3.)")
    parser.add_argument("--mmlb-per-document", type=int, default=2)
    parser.add_argument("--max-model-len", type=int, default=None,
                        help="window for mmlb-dev (default: the profile's; cpu prefill runs at "
                        "~85 tokens/s on 2 cores, so 60 questions at 8K take ~2 hours, at 4K ~45 "
                        "minutes)")
    parser.add_argument("--save", help="write every run's JSON to this file")
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    models = Path(args.models).resolve()
    profiles = args.profiles.split(",")
    saved = {}
    if not args.mmlb_only:
        runs = [_run(p, [ROOT / "sample_docs"], FACTS, None, models) for p in profiles]
        _facts_table(runs)
        _speed(runs[0])
        saved["facts"] = runs
    if args.facts_only:
        print("\n3. mmlb-dev: skipped (--facts-only)")
    elif not (MMLB / "samples.json").is_file():
        print(f"\n3. mmlb-dev: skipped, {MMLB} is absent")
    else:
        mmlb = _run(profiles[0], [MMLB / "documents"], MMLB / "samples.json",
                    args.mmlb_per_document, models, args.max_model_len)
        _mmlb_table(mmlb)
        saved["mmlb"] = mmlb
    if args.save:
        Path(args.save).write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
