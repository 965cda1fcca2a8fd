"""Report benchmark: a 10-question report over sample_docs on cpu-demo (vLLM on CPU), answered
as one batch against 10 sequential `ask` calls. Prints its figures.

    python bench/reports.py [--max-tokens 64] [--batched-first]

The questions are the first ten of the sample specs (sample_docs/reports/due_diligence.yaml,
then findings.yaml); on cpu-demo the collection is read in full mode (~7K tokens). Both runs use
one engine (the model loads once, untimed). Fairness: a short warm-up request runs first, and
the prefix cache is emptied (`LLM.reset_prefix_cache`) before each run, so each starts cold and
gets only the reuse it earns itself: the sequential run's second to tenth questions reuse the
first one's prefix, the batch shares it inside itself. `--batched-first` swaps the order, to
show the order does not matter. Figures: wall time of each run and their ratio, the share of
prompt tokens served from the prefix cache, time to first token, and rendering time of the
three formats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.reports import ReportSpec, Section, load_spec, render_report, run_report  # noqa: E402
from core.domain import Answer  # noqa: E402
from core.settings import Settings  # noqa: E402
from engine.service import Analyst  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from storage.repository import Store  # noqa: E402

QUESTIONS = 10
COLLECTION = "Samples"


def ten_questions() -> ReportSpec:
    """The first ten questions of the sample specs, as one report."""
    specs = [load_spec(ROOT / "sample_docs" / "reports" / name, [COLLECTION])
             for name in ("due_diligence.yaml", "findings.yaml")]
    sections: list[Section] = []
    left = QUESTIONS
    for section in (s for spec in specs for s in spec.sections):
        if left > 0:
            sections.append(Section(section.heading, section.questions[:left]))
            left -= len(sections[-1].questions)
    return ReportSpec("Benchmark: ten questions over sample_docs", COLLECTION, tuple(sections))


def reset_cache(analyst: Analyst) -> None:
    llm = getattr(analyst.backend, "llm", None)
    if llm is None or not llm.reset_prefix_cache():
        raise SystemExit("cannot empty the prefix cache of this backend")


def summary(name: str, answers: list[Answer], wall_s: float) -> None:
    prompt = sum(a.usage.prompt_tokens for a in answers)
    cached = sum(a.usage.cached_tokens for a in answers)
    ttft = [a.usage.time_to_first_token_s for a in answers
            if a.usage.time_to_first_token_s is not None]
    errors = sum(a.error is not None for a in answers)
    print(f"  {name:10} wall {wall_s:6.1f} s; prompt {prompt:,} tokens, cached {cached:,} "
          f"({cached / max(prompt, 1):.1%}); completion "
          f"{sum(a.usage.completion_tokens for a in answers):,} tokens; first token median "
          f"{statistics.median(ttft) if ttft else float('nan'):.2f} s; errors {errors}")


def run_sequential(analyst: Analyst, spec: ReportSpec) -> tuple[list[Answer], float]:
    reset_cache(analyst)
    start = time.perf_counter()
    answers = [analyst.ask(COLLECTION, q.text) for _, q in spec.questions]
    return answers, time.perf_counter() - start


def run_batched(analyst: Analyst, spec: ReportSpec, store: Store):
    reset_cache(analyst)
    start = time.perf_counter()
    run = run_report(analyst, spec)
    wall = time.perf_counter() - start
    start = time.perf_counter()
    render_report(run, store)
    return [i.answer for i in run.items], wall, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-tokens", type=int, default=64, help="answer tokens per question")
    parser.add_argument("--batched-first", action="store_true", help="run the batch first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), model_profile="cpu-demo", workers=1,
                            max_answer_tokens=args.max_tokens, models_dir=ROOT / "data" / "models")
        store = Store(settings)
        ingest_paths([ROOT / "sample_docs"], COLLECTION, store, settings)
        analyst = Analyst.open(settings, store)
        start = time.perf_counter()
        analyst.backend.generate([[{"role": "user", "content": "Hello"}]], 4)  # load + warm up
        load_s = time.perf_counter() - start
        spec = ten_questions()
        context = analyst.context(COLLECTION, spec.questions[0][1].text)
        print(f"[reports] {len(spec.questions)} questions over sample_docs, cpu-demo on vLLM CPU "
              f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}); model load "
              f"{load_s:.1f} s; {context.mode.value} mode, {context.corpus_tokens:,} corpus "
              f"tokens; at most {args.max_tokens} answer tokens")
        order = ["batched", "sequential"] if args.batched_first else ["sequential", "batched"]
        walls = {}
        for name in order:
            if name == "sequential":
                answers, walls[name] = run_sequential(analyst, spec)
            else:
                answers, walls[name], render_s = run_batched(analyst, spec, store)
            summary(name, answers, walls[name])
        print(f"  batched / sequential wall time: {walls['batched'] / walls['sequential']:.2f} "
              f"({walls['sequential'] / walls['batched']:.1f}x faster); rendering Markdown, HTML "
              f"and PDF: {render_s:.2f} s")
        store.close()


if __name__ == "__main__":
    main()
