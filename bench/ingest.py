"""Ingestion benchmark: prints its figures and whether each target is met.

    python bench/ingest.py [--corpus ../shared/corpus/pdfs] [--pages 2000] [--skip-llm]

1. PDFs: pages/s of raw PyMuPDF `page.get_text()` (one core), of `docscout ingest` (the real
   pipeline into a fresh database, all cores), and of `pymupdf4llm.to_markdown`, with the ratios.
   Targets: ingest >= 0.25x get_text and >= 10x pymupdf4llm, compared with OCR off everywhere;
   where Tesseract is installed, ingest with OCR on (scanned pages, and the large rasters of
   figure pages) is printed too: OCR while parsing, and OCR later as the CLI and web UI do it
   (text layers stored first, searchable at once, then OCR), whose time until searchable is
   compared with get_text (target >= 0.25x, issue "Find the evidence at small budgets").
2. Code: the Python standard library as a zip, seconds to ingest it against the floor of just
   reading and tokenizing its files (one core). Target: <= 2x the floor.
3. Memory: peak RSS (the `docscout ingest` process and its workers together) ingesting a
   generated 2,000-page PDF. Target: under 1 GB.
4. Hostile inputs: peak RSS and seconds of `docscout ingest` on the worst single inputs found by
   the hostile-input suite (tests/test_hostile.py): one-line text files of 50 MB and of nearly
   max_file_bytes, a 1 MB tar.gz expanding to 1 GiB, a folder nested 2,000 levels deep.
   Targets: every peak under 1 GB; the bomb refused in under 1 s.

    python bench/ingest.py --only-hostile   # section 4 alone (about a minute)
    python bench/ingest.py --only-pdf --skip-llm   # section 1 alone, without pymupdf4llm
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import psutil
import pymupdf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from core.tokens import count_text_tokens  # noqa: E402
from ingest.pipeline import ingest_paths, run_ocr, with_ocr  # noqa: E402
from storage.repository import Store  # noqa: E402

GB = 1024**3


def readable_pdfs(folder: Path) -> list[Path]:
    """PDFs that open without a password: the set every contender reads."""
    paths = []
    for path in sorted(folder.glob("*.pdf")):
        try:
            with pymupdf.open(path) as doc:
                if not doc.needs_pass and doc.page_count:
                    paths.append(path)
        except Exception:
            continue
    return paths


def raw_get_text(paths: list[Path]) -> tuple[int, float]:
    start, pages = time.perf_counter(), 0
    for path in paths:
        with pymupdf.open(path) as doc:
            for page in doc:
                page.get_text()
                pages += 1
    return pages, time.perf_counter() - start


def pymupdf4llm_rate(paths: list[Path]) -> tuple[int, float]:
    """pymupdf4llm as a user would call it, OCR off like the other contenders (with Tesseract
    installed it OCRs every page holding an image: ~2 pages/s here)."""
    import pymupdf4llm

    start, pages = time.perf_counter(), 0
    with open(os.devnull, "w") as quiet, redirect_stdout(quiet):  # it prints parser messages
        for path in paths:
            with pymupdf.open(path) as doc:
                pymupdf4llm.to_markdown(doc, show_progress=False, use_ocr=False)
                pages += doc.page_count
    return pages, time.perf_counter() - start


def docscout_ingest(paths: list[Path], workdir: Path, ocr: bool) -> tuple[list, float]:
    settings = Settings(data_dir=workdir / f"pdf-db-ocr-{ocr}", ocr=ocr)
    store = Store(settings)
    start = time.perf_counter()
    outcomes = ingest_paths(paths, "bench", store, settings)
    elapsed = time.perf_counter() - start
    store.close()
    return outcomes, elapsed


def docscout_ingest_ocr_later(paths: list[Path], workdir: Path) -> tuple[list, float, float]:
    """As `docscout ingest` and the web UI ingest: text layers stored first, then OCR
    (ingest.pipeline.run_ocr). Returns the final outcomes, seconds until every document was
    stored and searchable (best of 2, as for ingest with OCR off), and seconds OCR took after
    that (once)."""
    stored_s = []
    for attempt in range(2):
        settings = Settings(data_dir=workdir / f"pdf-db-ocr-later-{attempt}")
        store = Store(settings)
        start = time.perf_counter()
        outcomes = ingest_paths(paths, "bench", store, settings, ocr_later=True)
        stored_s.append(time.perf_counter() - start)
        if attempt == 0:
            store.close()
    start = time.perf_counter()
    ocr = run_ocr(store, settings, "bench")
    ocr_s = time.perf_counter() - start
    store.close()
    return with_ocr(outcomes, ocr), min(stored_s), ocr_s


def stdlib_zip(workdir: Path) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    target = workdir / "stdlib.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stdlib.rglob("*.py")):
            rel = path.relative_to(stdlib)
            if "site-packages" not in rel.parts:
                zf.write(path, f"stdlib/{rel.as_posix()}")
    return target


def code_floor(archive: Path) -> tuple[int, float]:
    """The least any ingester must do: read every member and tokenize its text."""
    start, tokens = time.perf_counter(), 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            tokens += count_text_tokens(zf.read(info).decode("utf-8", "replace"))
    return tokens, time.perf_counter() - start


def make_big_pdf(path: Path, pages: int) -> None:
    """A report-like PDF: text on every page, a ruled table every 10th, a chart every 50th."""
    doc = pymupdf.open()
    chart = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 600, 400), False)
    chart.set_rect(chart.irect, (230, 240, 255))
    chart.set_rect(pymupdf.IRect(80, 100, 180, 380), (200, 60, 60))
    chart.set_rect(pymupdf.IRect(260, 200, 360, 380), (60, 120, 200))
    chart_png = chart.tobytes("png")
    body = " ".join(f"Paragraph about item {i} with figures {i * 37 % 1000} and notes." for i in range(40))
    for n in range(pages):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(50, 50, 560, 420), f"Section {n + 1}. {body}", fontsize=9)
        if n % 10 == 0:
            for r in range(6):
                y = 450 + r * 20
                page.draw_line((50, y), (550, y))
                for c in range(4):
                    page.insert_text((55 + c * 125, y + 14), f"r{r}c{c} {n}", fontsize=9)
            for c in range(5):
                page.draw_line((50 + c * 125, 450), (50 + c * 125, 550))
        if n % 50 == 0:
            page.insert_image(pymupdf.Rect(100, 570, 500, 770), stream=chart_png)
    doc.save(path, garbage=3, deflate=True)


def peak_rss_of_cli(pdf: Path, workdir: Path, db: str = "big-db") -> tuple[float, float, str]:
    env = {"DOCSCOUT_DATA_DIR": str(workdir / db), "PATH": str(Path(sys.executable).parent),
           "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "app.cli", "ingest", str(pdf), "--collection", "big", "--json"]
    start = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            family = [proc] + proc.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in family if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {err.decode()[-300:]}"
    return peak / GB, time.perf_counter() - start, status


class _Zeros(io.RawIOBase):
    """n zero bytes, streamed (a bomb is written without holding it in memory)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def hostile_inputs(workdir: Path) -> list[tuple[str, Path]]:
    """The worst single inputs the hostile-input suite found, at full size."""
    limit = Settings().max_file_bytes
    inputs = []
    for label, size in (("one-line text, 50 MiB", 50 * 2**20),
                        ("one-line text, max_file_bytes - 1 MiB", limit - 2**20)):
        path = workdir / f"one-line-{size >> 20}.txt"
        with path.open("wb") as out:
            phrase = b"lorem ipsum dolor sit amet, "
            for _ in range(size // (len(phrase) * 4096)):
                out.write(phrase * 4096)
        inputs.append((label, path))
    bomb = workdir / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz", compresslevel=9) as tf:
        info = tarfile.TarInfo("zeros.txt")
        info.size = 2**30
        tf.addfile(info, _Zeros(info.size))
    inputs.append((f"tar.gz bomb ({bomb.stat().st_size >> 10} KiB -> 1 GiB)", bomb))
    deep = folder = workdir / "deep"
    deep.mkdir()
    for _ in range(2000):  # os.makedirs recurses: one level at a time
        folder = folder / "d"
        folder.mkdir()
    (folder / "bottom.txt").write_text("the bottom of a deep folder\n")
    inputs.append(("folder nested 2,000 levels", deep))
    return inputs


def seconds_to_ingest(path: Path, data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir, workers=1)
    store = Store(settings)
    start = time.perf_counter()
    ingest_paths([path], "bench", store, settings)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def hostile_section(workdir: Path) -> None:
    print("\n[hostile] docscout ingest of the worst single inputs (CLI + workers)")
    worst = ("", 0.0)
    for i, (label, path) in enumerate(hostile_inputs(workdir)):
        peak_gb, seconds, status = peak_rss_of_cli(path, workdir, db=f"hostile-db-{i}")
        status = "ok" if status == "ok" else "failed item" if status.startswith("exit 1") else status
        print(f"  {label:40} peak RSS {peak_gb:5.2f} GB  {seconds:6.1f} s  ({status})")
        if "bomb" in label:
            refused_s = seconds_to_ingest(path, workdir / f"bomb-db-{i}")
            print(f"  {'':40} refused in {refused_s:.2f} s (in process, no CLI start)  "
                  f"target < 1 s  {verdict(refused_s < 1)}")
        worst = max(worst, (label, peak_gb), key=lambda w: w[1])
    print(f"  worst: {worst[0]}: peak RSS {worst[1]:.2f} GB  target < 1 GB  "
          f"{verdict(worst[1] < 1)}")
    subprocess.run(["rm", "-rf", str(workdir / "deep")], check=True)  # shutil.rmtree recurses


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "pdfs")
    parser.add_argument("--pages", type=int, default=2000, help="pages of the generated PDF")
    parser.add_argument("--skip-llm", action="store_true", help="skip pymupdf4llm (slow)")
    parser.add_argument("--only-hostile", action="store_true", help="run section 4 alone")
    parser.add_argument("--only-pdf", action="store_true", help="run section 1 alone")
    args = parser.parse_args()
    print(f"cores: {psutil.cpu_count()}, python {sys.version.split()[0]}, PyMuPDF {pymupdf.VersionBind}")
    if args.only_hostile:
        with tempfile.TemporaryDirectory() as tmp:
            hostile_section(Path(tmp))
        return

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = readable_pdfs(args.corpus)
        pages, raw_s = min((raw_get_text(paths) for _ in range(3)), key=lambda r: r[1])
        raw_rate = pages / raw_s
        print(f"\n[pdf] corpus: {len(paths)} readable PDFs, {pages} pages ({args.corpus})")
        print(f"  raw PyMuPDF get_text : {raw_rate:8.1f} pages/s ({raw_s:.2f} s, 1 core, best of 3)")
        outcomes, ingest_s = min((docscout_ingest(paths, workdir / str(i), ocr=False)
                                  for i in range(2)), key=lambda r: r[1])
        ingest_rate = pages / ingest_s
        images = sum(o.document.image_tokens > 0 for o in outcomes if o.document)
        print(f"  docscout ingest      : {ingest_rate:8.1f} pages/s ({ingest_s:.2f} s, all cores, "
              f"OCR off, best of 2; {images} PDFs with page images)")
        ratio = ingest_rate / raw_rate
        print(f"  ingest / get_text    : {ratio:8.2f}x  target >= 0.25x  {verdict(ratio >= 0.25)}")
        if shutil.which("tesseract"):
            inline, ocr_s = docscout_ingest(paths, workdir, ocr=True)
            print(f"  ingest, OCR while parsing: {pages / ocr_s:8.1f} pages/s ({ocr_s:.2f} s, "
                  "all cores, Tesseract on scanned pages and figure rasters)")
            later, stored_s, after_s = docscout_ingest_ocr_later(paths, workdir)
            ratio = pages / stored_s / raw_rate
            print(f"  ingest, OCR later (CLI, web UI): stored and searchable after {stored_s:.2f} s "
                  f"({pages / stored_s:.1f} pages/s), OCR done {after_s:.2f} s later "
                  f"({pages / (stored_s + after_s):.1f} pages/s in all)")
            print(f"  ingest + OCR / get_text: {ratio:6.2f}x  target >= 0.25x  "
                  f"{verdict(ratio >= 0.25)}  (until searchable; OCR in the background after)")
            tokens = [sum(o.document.text_tokens for o in run if o.document)
                      for run in (inline, later)]
            print(f"  text tokens, OCR while parsing / later: {tokens[0]} / {tokens[1]} "
                  f"({'the same' if tokens[0] == tokens[1] else 'DIFFERENT'})")
        if not args.skip_llm:
            _, llm_s = pymupdf4llm_rate(paths)
            llm_rate = pages / llm_s
            print(f"  pymupdf4llm          : {llm_rate:8.1f} pages/s ({llm_s:.2f} s, 1 core)")
            ratio = ingest_rate / llm_rate
            print(f"  ingest / pymupdf4llm : {ratio:8.1f}x  target >= 10x    {verdict(ratio >= 10)}")

        if args.only_pdf:
            return
        archive = stdlib_zip(workdir)
        tokens, floor_s = code_floor(archive)
        settings = Settings(data_dir=workdir / "code-db")
        store = Store(settings)
        start = time.perf_counter()
        [outcome] = ingest_paths([archive], "code", store, settings)
        code_s = time.perf_counter() - start
        doc = outcome.document
        print(f"\n[code] stdlib zip: {archive.stat().st_size / 2**20:.1f} MiB, {tokens} tokens")
        print(f"  floor (read + tokenize): {floor_s:6.2f} s")
        print(f"  docscout ingest        : {code_s:6.2f} s ({outcome.status.value}, {doc.files} files, "
              f"{doc.text_tokens} tokens)")
        ratio = code_s / floor_s
        print(f"  ingest / floor         : {ratio:6.2f}x  target <= 2x  {verdict(ratio <= 2)}")

        big = workdir / "big.pdf"
        make_big_pdf(big, args.pages)
        peak_gb, big_s, status = peak_rss_of_cli(big, workdir)
        print(f"\n[memory] generated {args.pages}-page PDF ({big.stat().st_size / 2**20:.1f} MiB)")
        print(f"  peak RSS, CLI + workers: {peak_gb:.2f} GB in {big_s:.1f} s ({status})  "
              f"target < 1 GB  {verdict(peak_gb < 1)}")

        hostile_section(workdir)


if __name__ == "__main__":
    main()
