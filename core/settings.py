"""The one settings object of DocScout.

Every knob is a field here, read from `DOCSCOUT_*` environment variables (or a `.env` file), with
a description. Nothing else in the code base reads `os.environ`. It lives in `core/`, the bottom
layer, so that ingest, storage, engine and app can all import it without cycles.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCSCOUT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the database and derived files (converted models, caches).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: a SQLite file docscout.db in data_dir.",
    )

    # Limits on input (docling-style explicit limits). Anything over them is refused per document.
    max_file_bytes: int = Field(
        default=200 * MiB, description="Largest single file (or archive member) ingested, in bytes."
    )
    max_pages: int = Field(default=5000, description="Largest PDF ingested, in pages.")
    max_archive_members: int = Field(
        default=20_000, description="Most members a zip or tar archive may hold."
    )
    max_expanded_bytes: int = Field(
        default=2048 * MiB, description="Most bytes an archive may expand to, all members together."
    )
    max_compression_ratio: float = Field(
        default=200.0,
        description="Largest expanded/compressed size ratio of an archive or one of its members "
        "(zip-bomb guard).",
    )
    max_image_pixels: int = Field(
        default=100_000_000,
        description="Largest image decoded, in pixels; larger ones are refused as decompression bombs.",
    )
    max_code_file_bytes: int = Field(
        default=1 * MiB,
        description="Source files larger than this are skipped in a codebase (generated or data files).",
    )
    max_archive_depth: int = Field(
        default=2, description="How deep archives nested in archives are opened."
    )

    # PDF page images.
    page_image_max_tiles: int = Field(
        default=9,
        description="Most 336-px Llama 4 tiles a rendered PDF page may use. 9 renders a US Letter "
        "page at 779x1008 px (~91 dpi, 1452 tokens); 12 at 1008x1304 (~120 dpi, 1887 tokens), "
        "sharper for small chart labels but ~25% slower to ingest.",
    )
    figure_min_area: float = Field(
        default=0.04,
        description="Raster images covering at least this fraction of a page make it a figure page.",
    )
    figure_min_vector_items: int = Field(
        default=12,
        description="Vector drawing items (curves, coloured fills) from which a page counts as a chart.",
    )
    ocr_language: str = Field(default="eng", description="Tesseract language for scanned pages.")
    ocr: bool = Field(
        default=True,
        description="OCR scanned pages and image files (charts) when Tesseract is installed.",
    )
    ocr_figures: bool = Field(
        default=True,
        description="Also OCR the large graphics (charts, infographics, text boxes pasted as "
        "pictures; not photos) on PDF pages that have a text layer: ~0.4 s a chart, 1-4 s a "
        "picture full of text. Off: ingest is that much faster, those words unsearchable.",
    )
    ocr_later: bool = Field(
        default=True,
        description="Store a PDF with its text layer first (searchable and askable at once) and "
        "OCR its scanned pages and figures afterwards, in the background; off: OCR while "
        "ingesting. Needs keep_originals (the file is read again from its kept copy).",
    )

    models_dir: Path | None = Field(
        default=None,
        description="Where locally made models (cpu, cpu-demo, tiny-llama4) are kept; default: "
        "data_dir/models. Point several data folders at one to build them once.",
    )

    # Engine (vLLM). Names follow vLLM's own engine arguments where there is one.
    model_profile: str = Field(
        default="auto",
        description="scout, scout-int4, scout-fp8, maverick, cpu, cpu-demo, tiny-llama4, or a "
        "local Hugging Face model folder; auto = scout where a CUDA GPU is visible, else cpu.",
    )
    model_source: str | None = Field(
        default=None,
        description="The checkpoint a GPU profile (scout, scout-int4, scout-fp8, maverick) "
        "loads: a local folder or a Hub id; default: the profile's published checkpoint.",
    )
    max_model_len: int | None = Field(
        default=None, description="Context window in tokens; default: the profile's."
    )
    tensor_parallel_size: int = Field(
        default=8, description="GPUs per model replica (scout: 8 gives ~1M tokens on 8xH100)."
    )
    kv_cache_dtype: str = Field(
        default="auto", description="vLLM kv_cache_dtype; fp8 roughly doubles the context on GPUs."
    )
    # Deployment (GPU servers), under vLLM's engine argument names; None leaves vLLM's default.
    quantization: str | None = Field(
        default=None, description="vLLM quantization; default: what the checkpoint declares."
    )
    pipeline_parallel_size: int = Field(
        default=1, description="Pipeline stages per replica: splits a model across nodes."
    )
    data_parallel_size: int = Field(
        default=1, description="Replicas of the model inside one vLLM server."
    )
    gpu_memory_utilization: float | None = Field(
        default=None, description="Share of each GPU's memory vLLM may take; default vLLM's (0.9)."
    )
    max_num_seqs: int | None = Field(
        default=None, description="Most sequences vLLM runs in one batch; default vLLM's."
    )
    max_num_batched_tokens: int | None = Field(
        default=None,
        description="Most tokens one engine step takes; several images in one prompt need it "
        "large enough (vLLM issue 18266); default vLLM's.",
    )
    enable_chunked_prefill: bool | None = Field(
        default=None, description="Split long prompts' prefill across steps; default vLLM's."
    )
    distributed_executor_backend: str | None = Field(
        default=None,
        description="How vLLM runs its GPU workers: mp (one node) or ray (several nodes); "
        "default vLLM's choice.",
    )
    attn_temperature_tuning: bool = Field(
        default=True, description="Llama 4 attention temperature tuning, recommended above 32K."
    )
    limit_mm_per_prompt_image: int = Field(
        default=10, description="Most images in one prompt (vLLM limit_mm_per_prompt['image'])."
    )
    max_answer_tokens: int | None = Field(
        default=None,
        description="Tokens reserved for, and at most generated in, an answer; default: the "
        "profile's (cpu 384, scout 1024).",
    )
    temperature: float | None = Field(
        default=None, description="vLLM sampling temperature; default: the profile's (0, greedy)."
    )
    repetition_penalty: float | None = Field(
        default=None, description="vLLM repetition_penalty; default: the profile's (cpu 1.05)."
    )
    frequency_penalty: float | None = Field(
        default=None, description="vLLM frequency_penalty; default: the profile's (0)."
    )
    report_map_reduce_factor: float = Field(
        default=4.0,
        description="A report question in auto mode reads the whole collection in map-reduce "
        "when the collection holds more than this many windows' worth of tokens (focused mode "
        "would read less than 1/factor of it); 0 turns automatic map-reduce off.",
    )
    vllm_base_url: str | None = Field(
        default=None,
        description="URL of a running OpenAI-compatible vLLM server (e.g. http://host:8000/v1), "
        "or several replicas' URLs separated by commas; when set, DocScout uses them instead of "
        "loading a model in-process, and takes the model's name, window, vision and tokenizer "
        "from the server. One collection's questions go to one replica while it is up.",
    )
    vllm_model: str | None = Field(
        default=None,
        description="Which of the models the server serves DocScout asks (its served name); "
        "default: the only, or first, one listed.",
    )
    vllm_api_key: str | None = Field(default=None, description="API key of that server.")
    request_timeout_s: float = Field(
        default=600.0, description="Longest wait for one answer before it fails with a timeout."
    )
    vllm_log_level: str = Field(
        default="ERROR", description="vLLM's log level when a model runs in-process."
    )
    cpu_kvcache_gib: int = Field(
        default=1, description="KV cache size on CPU in GiB (vLLM's VLLM_CPU_KVCACHE_SPACE)."
    )

    workers: int = Field(
        default=0, description="Parallel extraction processes; 0 means one per CPU core."
    )
    keep_originals: bool = Field(
        default=True,
        description="Keep each PDF's own bytes in the database so a citation can show its page.",
    )

    # Web UI.
    max_upload_mb: int = Field(
        default=200, description="Largest file the web UI accepts in one upload, in MB."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'docscout.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
