"""What counts as source in a codebase, and what is skipped: the tables behind ingest/code.py.

Kept apart from the walk so the lists can grow without touching it. Folder rules are by name,
and only for names that are (almost) never hand-written source: `build`, `dist` and `venv` are
skipped unless they are Python packages (pypa/build keeps its code in `src/build/`, the standard
library has a `venv` package); any folder holding pyvenv.cfg is a virtual environment; `target`
only next to Cargo.toml / pom.xml / build.sbt / build.gradle (Rust, Maven, sbt, Gradle output).
`out` is not skipped: too many projects keep real code there.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from core.settings import Settings

BINARY_SNIFF_BYTES = 8 * 1024
LOCKFILE_MAX_BYTES = 100 * 1024

_SKIP_DIRS = {
    **dict.fromkeys((".git", ".hg", ".svn", ".bzr"), "version control data"),
    ".venv": "virtual environment",
    **dict.fromkeys(
        ("node_modules", "bower_components", "jspm_packages", ".terraform"),
        "installed dependencies",
    ),
    "__pycache__": "bytecode cache",
    **dict.fromkeys(
        (".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox", ".cache", ".gradle",
         ".ipynb_checkpoints", ".parcel-cache", ".turbo", ".hypothesis"),
        "tool cache",
    ),
    **dict.fromkeys((".next", ".nuxt", ".svelte-kit", ".eggs"), "build output"),
    **dict.fromkeys(("vendor", "third_party", "third-party", "thirdparty"), "vendored code"),
    "htmlcov": "coverage report",
    ".idea": "editor settings",
}
# Skipped unless they hold an __init__.py: then they are Python packages (the stdlib's venv).
_UNLESS_PACKAGE = {"build": "build output", "dist": "build output", "venv": "virtual environment"}
_TARGET_MARKERS = {"Cargo.toml", "pom.xml", "build.sbt", "build.gradle", "build.gradle.kts"}

_LOCKFILES = {
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock",
    "poetry.lock", "uv.lock", "Pipfile.lock", "pdm.lock", "Cargo.lock", "composer.lock",
    "Gemfile.lock", "go.sum", "mix.lock", "flake.lock", "packages.lock.json", "Podfile.lock",
    "pubspec.lock",
}  # fmt: skip
_GENERATED_SUFFIXES = (".min.js", ".min.css", ".js.map", ".css.map")
_BINARY_EXTS = set(
    """png jpg jpeg gif bmp tif tiff webp ico icns psd heic avif pdf ps eps zip gz tgz bz2 xz
    zst 7z rar tar lz4 jar war ear whl egg exe dll so dylib o a obj lib class pyc pyo pyd
    bin dat db sqlite sqlite3 mp3 mp4 m4a wav ogg flac avi mov mkv webm woff woff2 ttf otf
    eot pkl pickle npy npz pt pth ckpt onnx safetensors gguf h5 hdf5 parquet feather arrow
    xls xlsx doc docx ppt pptx odt ods odp iso dmg img wasm swf""".split()
)

# Programming languages: these decide "a majority of source files" in looks_like_codebase.
_CODE_EXTS = set(
    """py pyi pyx pxd c h cc cpp cxx c++ hpp hh hxx inl m mm cs java kt kts scala sc groovy go
    rs swift rb php pl pm t lua r jl js mjs cjs jsx ts tsx mts cts vue svelte astro dart ex exs
    erl hrl hs lhs elm clj cljs cljc edn fs fsi fsx ml mli nim zig v sv svh vhd vhdl asm s
    sh bash zsh fish ps1 psm1 bat cmd sql proto thrift graphql gql f f90 f95 for cu cuh cl
    gd tf hcl nix sol vim el lisp lsp scm ss rkt awk tcl css scss sass less styl
    cmake mk gradle ipynb""".split()
)
# Build and configuration formats: source in a codebase, but not evidence of one on their own.
_CONFIG_EXTS = set("toml ini cfg conf yaml yml json jsonc json5 xml properties plist".split())
_SOURCE_NAMES = {
    "Makefile", "makefile", "GNUmakefile", "Dockerfile", "Containerfile", "CMakeLists.txt",
    "Gemfile", "Rakefile", "Jenkinsfile", "Vagrantfile", "Procfile", "Brewfile", "Justfile",
    "justfile", "BUILD", "BUILD.bazel", "WORKSPACE", "meson.build", "SConstruct", "go.mod",
    ".gitignore", ".gitattributes", ".dockerignore", ".editorconfig",
}  # fmt: skip
_PROJECT_MARKERS = {
    ".gitignore", "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "Pipfile",
    "package.json", "tsconfig.json", "deno.json", "Cargo.toml", "go.mod", "Makefile",
    "makefile", "GNUmakefile", "pom.xml", "build.gradle", "build.gradle.kts", "build.sbt",
    "CMakeLists.txt", "meson.build", "configure.ac", "Gemfile", "composer.json", "mix.exs",
    "Package.swift", "pubspec.yaml", "stack.yaml", "dune-project", "BUILD.bazel", "WORKSPACE",
}  # fmt: skip
_PROJECT_MARKER_EXTS = {".sln", ".csproj", ".fsproj", ".vcxproj", ".xcodeproj", ".cabal"}


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")


def dir_refusal(name: str, siblings: set[str], children: set[str]) -> str | None:
    """Why a folder is not walked, or None. `siblings` are the names next to it, `children`
    the names inside it."""
    if name in _SKIP_DIRS:
        return _SKIP_DIRS[name]
    if "pyvenv.cfg" in children:
        return "virtual environment"
    if name.endswith(".egg-info"):
        return "packaging metadata"
    if name in _UNLESS_PACKAGE and "__init__.py" not in children:
        return _UNLESS_PACKAGE[name]
    if name == "target" and siblings & _TARGET_MARKERS:
        return "build output"
    return None


def file_refusal(name: str, size: int, settings: Settings) -> str | None:
    """Why a file is skipped judging by its name and size, or None (its bytes are sniffed for
    NUL later, by the caller)."""
    if name in _LOCKFILES and size > LOCKFILE_MAX_BYTES:
        return f"lockfile over {human_size(LOCKFILE_MAX_BYTES)}"
    if _extension(name) in _BINARY_EXTS:
        return "binary file"
    if name.lower().endswith(_GENERATED_SUFFIXES):
        return "minified or generated file"
    if size > settings.max_code_file_bytes:
        return f"larger than {human_size(settings.max_code_file_bytes)} (max_code_file_bytes)"
    return None


def _extension(path: str) -> str:
    return PurePosixPath(path).suffix.lower().lstrip(".")


def is_code_file(path: str) -> bool:
    """A file in a programming language, by extension."""
    return _extension(path) in _CODE_EXTS


def is_source_file(path: str) -> bool:
    """A file that belongs in a codebase: a programming language, a build or configuration
    format, or a well-known name (Makefile, Dockerfile, .gitignore). Prose (.md, .txt) is not."""
    name = PurePosixPath(path).name
    if name in _SOURCE_NAMES or name.startswith("Dockerfile."):
        return True
    ext = _extension(name)
    return ext in _CODE_EXTS or ext in _CONFIG_EXTS


def is_project_marker(name: str) -> bool:
    """A file name (or folder name) that only software projects have."""
    return name in _PROJECT_MARKERS or PurePosixPath(name).suffix in _PROJECT_MARKER_EXTS
