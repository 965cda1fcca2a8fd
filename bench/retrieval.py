"""Retrieval benchmark: what focused packing puts in front of the model, measured without one.

    python bench/retrieval.py [--budgets 8000,32000] [--profile tiny-llama4] [--per-document N]

Ingests ../shared/mmlb-dev's 30 PDFs (read in place, never copied) into a throw-away data folder
and, for every question with evidence pages, asks `docscout eval --recall-at`'s code
(engine.evaluate.recall_at) whether all its evidence pages are in the context built for it at
each budget, asked of its own document. Counts follow the profile's tokenizer and image rule
(tiny-llama4: Scout's, without a model load). Prints the ingest time, then recall and the median
pages read per budget, overall and per evidence source (Pure-text, Layout, Table, Chart,
Figure). Issue "Find the evidence at small budgets" targets >= 90% at 8K and >= 98% at 32K.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MMLB = ROOT.parent / "shared" / "mmlb-dev"
SOURCES = ("Pure-text", "Layout", "Table", "Chart", "Figure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="8000,32000")
    parser.add_argument("--profile", default="tiny-llama4")
    parser.add_argument("--per-document", type=int, default=None)
    parser.add_argument("--models", default=os.environ.get("DOCSCOUT_MODELS_DIR",
                                                           str(ROOT / "data" / "models")))
    args = parser.parse_args()
    if not (MMLB / "samples.json").is_file():
        print(f"mmlb-dev: skipped, {MMLB} is absent")
        return

    from core.settings import Settings
    from engine.evaluate import load_question_set, recall_at, select
    from engine.service import Analyst
    from ingest.pipeline import ingest_paths
    from storage.repository import Store

    budgets = [int(b) for b in args.budgets.split(",")]
    with tempfile.TemporaryDirectory(prefix="docscout-retrieval-") as data:
        settings = Settings(data_dir=Path(data), model_profile=args.profile,
                            models_dir=Path(args.models))
        store = Store(settings)
        started = time.perf_counter()
        ingest_paths([MMLB / "documents"], "mmlb", store, settings)
        print(f"ingest of mmlb-dev ({len(store.documents('mmlb'))} PDFs): "
              f"{time.perf_counter() - started:.0f} s")
        questions = select(load_question_set(MMLB / "samples.json").questions,
                           per_document=args.per_document)
        analyst = Analyst.open(settings, store)  # counts only: no model is loaded
        started = time.perf_counter()
        overall = recall_at(analyst, "mmlb", questions, budgets)
        print(f"packing for {overall[0].questions} questions with evidence x {len(budgets)} "
              f"budgets: {time.perf_counter() - started:.0f} s ({args.profile} counting)\n")
        print(f"{'evidence source':16}{'questions':>10}" + "".join(
            f"{f'recall@{b // 1000}K (found)':>20}{'pages':>7}" for b in budgets))
        _row("all", overall)
        if overall[0].by_label:
            print(f"({overall[0].by_label} questions cite pages beyond the last page of their "
                  "document: read as the PDF's printed page labels, ingest.pdf)")
        if overall[0].outside:
            print(f"(left out: {overall[0].outside} questions whose evidence names a page beyond "
                  "the last page of their document, i.e. printed page labels; counted as misses, "
                  "recall@" + ", ".join(
                      f"{r.budget // 1000}K would be {r.found / (r.questions + r.outside):.1%}"
                      for r in overall) + ")")
        for source in SOURCES:
            tagged = [q for q in questions if f"source:{source}" in q.tags]
            if tagged:
                _row(source, recall_at(analyst, "mmlb", tagged, budgets))
        store.close()


def _row(name: str, rows) -> None:
    cells = "".join(f"{f'{r.recall:.1%} ({r.found})':>20}{r.pages_read_median or 0:>7.0f}"
                    if r.recall is not None else f"{'n/a':>20}{'':>7}" for r in rows)
    print(f"{name:16}{rows[0].questions:>10}{cells}")


if __name__ == "__main__":
    main()
