"""ingest/archive.py: safe zip and tar reading, and a real codebase archive end to end."""

from __future__ import annotations

import io
import os
import stat
import struct
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.domain import DocumentKind, SegmentKind
from core.errors import IngestError
from core.settings import Settings
from ingest.archive import RATIO_FLOOR_BYTES, is_archive, read_archive
from ingest.code import collect_members, looks_like_codebase, parse_codebase

MEMBERS = [("repo/README.md", b"# Hello\n"), ("repo/src/main.py", b"print('hi')\n")]


def make_zip(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar(members: Sequence[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tf.addfile(info, io.BytesIO(member[1]))
    return buf.getvalue()


def tar_entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


# --- recognising archives -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_is_archive_for_every_tar_compression(mode: str) -> None:
    data = make_tar(MEMBERS, mode)
    ext = {"w": ".tar", "w:gz": ".tar.gz", "w:bz2": ".tar.bz2", "w:xz": ".tar.xz"}[mode]
    assert is_archive("code" + ext, data[:4096])
    # gzip and xz heads decompress far enough to see the ustar magic; bzip2 needs its name.
    assert is_archive("download.bin", data[:4096]) == (mode != "w:bz2")


def test_is_archive_zip_and_non_archives() -> None:
    zipped = make_zip(MEMBERS)
    assert is_archive("x.zip", zipped[:4096])
    assert is_archive("noext", zipped[:4096])
    assert is_archive("empty.zip", make_zip([])[:4096])  # PK\x05\x06
    assert not is_archive("letter.docx", zipped[:4096])  # a zip container, but a document
    assert not is_archive("notes.txt", b"hello world\n" * 100)
    assert not is_archive("data.csv.gz", __import__("gzip").compress(b"a,b\n" * 500))
    assert not is_archive("fake.tar", b"not a tar header" * 64)


# --- reading -----------------------------------------------------------------------------------


def test_zip_members_in_order_and_directories_skipped(settings: Settings) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.mkdir("repo/empty")
        for name, data in MEMBERS:
            zf.writestr(name, data)
    contents = read_archive("x.zip", buf.getvalue(), settings)
    assert contents.members == MEMBERS
    assert contents.refused == []


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_every_compression(mode: str, settings: Settings) -> None:
    data = make_tar([tar_entry("repo/src", tarfile.DIRTYPE), *MEMBERS], mode)
    contents = read_archive("x.tar", data, settings)
    assert contents.members == MEMBERS
    assert contents.refused == []


def test_archive_from_a_path(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "a.zip").write_bytes(make_zip(MEMBERS))
    (tmp_path / "a.tgz").write_bytes(make_tar(MEMBERS, "w:gz"))
    assert read_archive("a.zip", tmp_path / "a.zip", settings).members == MEMBERS
    assert read_archive("a.tgz", tmp_path / "a.tgz", settings).members == MEMBERS


UNSAFE = {
    "../../etc/passwd": "refused: path escapes the archive (../../etc/passwd)",
    "a/../../b.txt": "refused: path escapes the archive (a/../../b.txt)",
    "..\\..\\win.ini": "refused: path escapes the archive (..\\..\\win.ini)",
    "/etc/shadow": "refused: absolute path (/etc/shadow)",
    "C:/Windows/x.dll": "refused: absolute path (C:/Windows/x.dll)",
    "C:\\boot.ini": "refused: absolute path (C:\\boot.ini)",
}


def test_zip_unsafe_names_are_refused_one_by_one(settings: Settings) -> None:
    unsafe = [(name, b"x") for name in UNSAFE]
    data = make_zip([*unsafe, ("ok/./fine.txt", b"fine"), ("dir\\file.txt", b"x")])
    contents = read_archive("x.zip", data, settings)
    assert dict(contents.refused) == UNSAFE
    assert contents.members == [("ok/fine.txt", b"fine"), ("dir/file.txt", b"x")]


def test_tar_unsafe_names_links_and_devices(settings: Settings) -> None:
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = [
        ("../escape.txt", b"x"),
        ("/abs.txt", b"x"),
        tar_entry("link", tarfile.SYMTYPE, "/etc/passwd"),
        tar_entry("hard", tarfile.LNKTYPE, "ok.txt"),
        tar_entry("fifo", tarfile.FIFOTYPE),
        tar_entry("dev", tarfile.CHRTYPE),
        ("ok.txt", b"ok"),
    ]
    contents = read_archive("x.tar.gz", make_tar(entries, "w:gz"), settings)
    assert contents.members == [("ok.txt", b"ok")]
    assert contents.refused == [
        ("../escape.txt", "refused: path escapes the archive (../escape.txt)"),
        ("/abs.txt", "refused: absolute path (/abs.txt)"),
        ("link", "refused: symbolic link"),
        ("hard", "refused: hard link"),
        ("fifo", "refused: device file or fifo"),
        ("dev", "refused: device file or fifo"),
    ]


def test_zip_symlink_member_is_refused(settings: Settings) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("evil-link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ok.txt", b"ok")
    contents = read_archive("x.zip", buf.getvalue(), settings)
    assert contents.refused == [("evil-link", "refused: symbolic link")]
    assert contents.members == [("ok.txt", b"ok")]


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_too_many_members_refuses_the_archive(kind: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, max_archive_members=5)
    members = [(f"f{i}.txt", b"x") for i in range(6)]

    def build(items: list[tuple[str, bytes]]) -> bytes:
        return make_zip(items) if kind == "zip" else make_tar(items, "w:gz")

    with pytest.raises(IngestError, match="more than 5 members"):
        read_archive("many." + kind, build(members), settings)
    assert len(read_archive("five." + kind, build(members[:5]), settings).members) == 5


def test_expanded_size_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, max_expanded_bytes=1000)
    members = [("a.txt", os.urandom(600)), ("b.txt", os.urandom(600))]
    for data in (make_zip(members), make_tar(members, "w:xz")):
        with pytest.raises(IngestError) as err:
            read_archive("big", data, settings)
        assert err.value.message == (
            "archive expands to more than 1000 bytes (limit max_expanded_bytes)"
        )


def test_member_over_max_file_bytes_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=1, max_file_bytes=100)
    members = [("big.bin", os.urandom(200)), ("small.txt", b"ok")]
    for data in (make_zip(members), make_tar(members, "w:bz2")):
        contents = read_archive("x", data, settings)
        assert contents.members == [("small.txt", b"ok")]
        assert contents.refused == [
            ("big.bin", "refused: 200 bytes is larger than the limit of 100 bytes (max_file_bytes)")
        ]


def test_tar_member_refused_for_size_is_not_taken_for_a_bomb(tmp_path: Path) -> None:
    """A streamed tar must decompress a refused member to get past it: its size counts toward
    the archive's total, but its ratio is judged only once the stream has moved past it."""
    settings = Settings(data_dir=tmp_path, workers=1, max_file_bytes=RATIO_FLOOR_BYTES)
    members = [("big.bin", os.urandom(3 * RATIO_FLOOR_BYTES)), ("small.txt", b"ok")]
    contents = read_archive("x.tar.gz", make_tar(members, "w:gz"), settings)
    assert contents.members == [("small.txt", b"ok")]
    assert [name for name, _ in contents.refused] == ["big.bin"]


def test_zip_bomb_alone_refuses_the_whole_archive(settings: Settings) -> None:
    data = make_zip([("zeros.txt", bytes(4 * RATIO_FLOOR_BYTES))])
    with pytest.raises(IngestError, match=r"compression ratio \d+:1 exceeds 200:1 \(possible"):
        read_archive("bomb.zip", data, settings)


def test_zip_bomb_member_among_normal_ones_is_refused(settings: Settings) -> None:
    noise = os.urandom(3 * RATIO_FLOOR_BYTES)  # incompressible: keeps the archive's ratio low
    data = make_zip([("noise.bin", noise), ("zeros.txt", bytes(2 * RATIO_FLOOR_BYTES))])
    contents = read_archive("mixed.zip", data, settings)
    assert [name for name, _ in contents.members] == ["noise.bin"]
    (name, reason), = contents.refused
    assert name == "zeros.txt"
    assert reason.startswith("refused: compression ratio ")
    assert reason.endswith(":1 exceeds 200:1 (possible zip bomb)")


def test_small_compressible_member_is_not_a_bomb(settings: Settings) -> None:
    data = make_zip([("spaces.txt", b" " * 100_000)])  # ratio ~ 1000:1, but only 100 KB
    assert read_archive("ok.zip", data, settings).members == [("spaces.txt", b" " * 100_000)]


def test_tar_gz_bomb_is_caught_while_streaming(settings: Settings) -> None:
    data = make_tar([("zeros.txt", bytes(8 * RATIO_FLOOR_BYTES))], "w:gz")
    assert len(data) < 20_000
    with pytest.raises(IngestError, match=r"exceeds 200:1 \(possible zip bomb\)"):
        read_archive("bomb.tar.gz", data, settings)


def test_zip_member_whose_header_lies_about_its_size(settings: Settings) -> None:
    """Both headers claim 100 bytes; the data inflates to 2 MB. The read stops at the declared
    size and the CRC check refuses the member: memory stays bounded."""
    data = bytearray(make_zip([("liar.txt", b"A" * 2_000_000), ("ok.txt", b"ok")]))
    struct.pack_into("<I", data, 22, 100)  # local header: uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # central directory: uncompressed size
    contents = read_archive("liar.zip", bytes(data), settings)
    assert contents.members == [("ok.txt", b"ok")]
    (name, reason), = contents.refused
    assert name == "liar.txt" and reason.startswith("refused: unreadable member (Bad CRC-32")


def test_tar_header_claiming_more_data_than_there_is(settings: Settings) -> None:
    data = bytearray(make_tar([("a.txt", b"hello")]))
    data[124:136] = b"%011o\x00" % (50 * 1024 * 1024)  # size field: 50 MiB
    data[148:156] = b"        "  # recompute the header checksum
    data[148:156] = b"%06o\x00 " % sum(data[:512])
    with pytest.raises(IngestError, match="not a readable archive"):
        read_archive("short.tar", bytes(data), settings)


@pytest.mark.parametrize(
    "name,data",
    [
        ("broken.zip", b"PK\x03\x04" + b"\x00garbage" * 50),
        ("truncated.tar.gz", make_tar(MEMBERS * 50, "w:gz")[:300]),
        ("random.tar", os.urandom(2048)),
        ("empty.tar", b""),
    ],
)
def test_corrupt_archive_is_refused(name: str, data: bytes, settings: Settings) -> None:
    with pytest.raises(IngestError) as err:
        read_archive(name, data, settings)
    assert err.value.source == name
    assert "not a readable" in err.value.message
    assert err.value.__cause__ is not None


# --- a real codebase: the Python standard library -----------------------------------------------


@pytest.mark.slow  # ~4 s: 1,790 files, 31 MB of source, 10M tokens counted
def test_stdlib_zip_as_a_codebase(tmp_path: Path, settings: Settings) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = sorted(
        p for p in stdlib.rglob("*.py") if "site-packages" not in p.relative_to(stdlib).parts
    )
    archive = tmp_path / "stdlib.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sources:
            zf.write(path, "python-stdlib/" + path.relative_to(stdlib).as_posix())

    started = time.perf_counter()
    contents = read_archive("stdlib.zip", archive, settings)
    read_s = time.perf_counter() - started
    assert contents.refused == []
    assert looks_like_codebase([name for name, _ in contents.members])
    code = collect_members(contents.members, settings)
    parsed = parse_codebase("stdlib.zip", code, settings)
    total_s = time.perf_counter() - started
    print(
        f"\nstdlib: {len(sources)} .py files, {archive.stat().st_size / 1e6:.1f} MB zip; "
        f"read {read_s:.2f} s, total {total_s:.2f} s; {parsed.document.files} files, "
        f"{parsed.document.text_tokens} tokens, status {parsed.document.status}"
    )
    doc = parsed.document
    assert doc.kind == DocumentKind.CODE and doc.files is not None and doc.files > 500
    assert doc.files == len(code.files) == len(parsed.segments) - 1
    assert parsed.segments[0].text.startswith("Codebase: stdlib.zip\n")
    paths = {seg.locator.path for seg in parsed.segments[1:]}
    assert "os.py" in paths and "json/__init__.py" in paths  # the "python-stdlib/" prefix is gone
    os_segment = next(s for s in parsed.segments if s.locator.path == "os.py")
    assert os_segment.kind == SegmentKind.CODE
    assert os_segment.prompt_text.startswith("File: os.py\n1| ")
