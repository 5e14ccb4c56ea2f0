"""The MP4 header parser: real ffmpeg files plus hand-built containers for the edge cases."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path

import pytest

from shared.media import mp4
from shared.media.mp4 import NotPlayableMp4, probe, probe_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def box64(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def ftyp() -> bytes:
    return box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        body = struct.pack(">B3xQQIQ", 1, 0, 0, timescale, duration)
    else:
        body = struct.pack(">B3xIIII", 0, 0, 0, timescale, duration)
    return box(b"mvhd", body + bytes(80))


def trak(handler: bytes = b"vide") -> bytes:
    hdlr = box(b"hdlr", bytes(4) + bytes(4) + handler + bytes(12) + b"VideoHandler\x00")
    return box(b"trak", box(b"tkhd", bytes(84)) + box(b"mdia", box(b"mdhd", bytes(24)) + hdlr))


def moov(*children: bytes) -> bytes:
    return box(b"moov", b"".join(children))


class CountingReader:
    """A sparse file: given segments at offsets, zeros elsewhere; counts what is read."""

    def __init__(self, segments: dict[int, bytes], size: int) -> None:
        self.segments, self.size = segments, size
        self.bytes_read = 0
        self.calls = 0

    def __call__(self, start: int, end: int) -> bytes:
        assert 0 <= start <= end < self.size
        self.calls += 1
        self.bytes_read += end - start + 1
        out = bytearray(end - start + 1)
        for off, data in self.segments.items():
            lo, hi = max(off, start), min(off + len(data), end + 1)
            if lo < hi:
                out[lo - start : hi - start] = data[lo - off : hi - off]
        return bytes(out)


@pytest.mark.parametrize(
    ("name", "faststart"), [("tiny_faststart.mp4", True), ("tiny_moov_at_end.mp4", False)]
)
def test_real_ffmpeg_files_give_their_duration(name: str, faststart: bool) -> None:
    info = probe_bytes((FIXTURES / name).read_bytes())

    assert info.duration_seconds == Decimal("3.000")
    assert info.has_video and not info.has_audio
    assert info.faststart is faststart
    assert info.major_brand == "isom"


def test_a_huge_file_with_moov_at_the_end_is_read_in_a_few_small_ranges() -> None:
    head = ftyp() + struct.pack(">I4sQ", 1, b"mdat", 6 * 1024**3)  # 6 GiB of media data
    tail = moov(mvhd(90000, 90000 * 3600), trak(b"vide"), trak(b"soun"))
    size = len(head) - 16 + 6 * 1024**3 + len(tail)
    reader = CountingReader({0: head, size - len(tail): tail}, size)

    info = probe(reader, size)

    assert info.duration_seconds == Decimal("3600.000")
    assert info.has_video and info.has_audio and not info.faststart
    assert reader.bytes_read <= 4 * mp4.BLOCK
    assert reader.calls <= 4


def test_mvhd_version_1_with_64_bit_duration() -> None:
    data = ftyp() + moov(mvhd(1000, 2**33, version=1), trak()) + box(b"mdat", b"x")

    with pytest.raises(NotPlayableMp4, match="24 hours"):
        probe_bytes(data)  # 2**33 ms is ~99 days

    data = ftyp() + moov(mvhd(1000, 1_234_567, version=1), trak()) + box(b"mdat", b"x")
    assert probe_bytes(data).duration_seconds == Decimal("1234.567")


def test_a_last_box_of_size_zero_runs_to_the_end_of_the_file() -> None:
    data = ftyp() + moov(mvhd(600, 600 * 5), trak()) + struct.pack(">I4s", 0, b"mdat") + bytes(99)

    info = probe_bytes(data)

    assert info.duration_seconds == Decimal("5.000") and info.faststart


def test_fragmented_mp4_takes_its_duration_from_mehd() -> None:
    mehd = box(b"mehd", struct.pack(">B3xI", 0, 7500))
    data = (
        ftyp()
        + moov(mvhd(1000, 0), trak(), box(b"mvex", mehd))
        + box(b"moof", bytes(8))
        + box(b"mdat", bytes(16))
    )

    assert probe_bytes(data).duration_seconds == Decimal("7.500")


def test_uuid_boxes_and_64_bit_sizes_are_walked() -> None:
    data = (
        ftyp()
        + box(b"uuid", bytes(16) + b"vendor")
        + box64(b"moov", mvhd(25, 50) + trak())
        + box64(b"mdat", bytes(10))
    )

    assert probe_bytes(data).duration_seconds == Decimal("2.000")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"just some text, certainly not a video file\n" * 3, "not an MP4"),
        (b"\x00" * 8, "too small"),
        (box(b"free", bytes(8)) + ftyp(), "no 'ftyp'"),
        (ftyp() + box(b"mdat", bytes(64)), "no 'moov'"),
        (ftyp() + moov(mvhd(1000, 3000), trak()), "no 'mdat'"),
        (ftyp() + moov(trak()) + box(b"mdat", b"x"), "no 'mvhd'"),
        (ftyp() + moov(mvhd(0, 3000), trak()) + box(b"mdat", b"x"), "timescale"),
        (ftyp() + moov(mvhd(1000, 0), trak()) + box(b"mdat", b"x"), "no duration"),
        (ftyp() + moov(mvhd(1000, 3000)) + box(b"mdat", b"x"), "no tracks"),
        (ftyp() + moov(mvhd(1000, 3000), trak()) + box(b"mdat", b"x") + b"\x00\x01", "trailing"),
    ],
)
def test_files_that_are_not_playable_mp4s_are_refused_with_a_reason(
    data: bytes, reason: str
) -> None:
    with pytest.raises(NotPlayableMp4, match=reason):
        probe_bytes(data)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.99])
def test_a_truncated_upload_is_refused(cut: float) -> None:
    for name in ("tiny_faststart.mp4", "tiny_moov_at_end.mp4"):
        data = (FIXTURES / name).read_bytes()
        with pytest.raises(NotPlayableMp4):
            probe_bytes(data[: int(len(data) * cut)])


def test_a_box_claiming_more_than_the_file_is_refused_without_reading_it() -> None:
    head = ftyp() + struct.pack(">I4sQ", 1, b"mdat", 2**62)
    reader = CountingReader({0: head}, 10 * 1024**2)

    with pytest.raises(NotPlayableMp4, match="truncated"):
        probe(reader, reader.size)
    assert reader.calls == 1


def test_storage_errors_propagate_so_the_caller_can_retry() -> None:
    def failing(start: int, end: int) -> bytes:
        raise ConnectionError("storage unavailable")

    with pytest.raises(ConnectionError):
        probe(failing, 1000)


def test_reads_are_capped_however_many_boxes_the_file_claims() -> None:
    # 10 000 tiny `free` boxes spread 70 KiB apart would need a fetch each: refused at the cap.
    gap = 70 * 1024
    segments = {0: ftyp()}
    pos = len(ftyp())
    for _ in range(200):
        segments[pos] = struct.pack(">I4s", gap, b"free")
        pos += gap
    reader = CountingReader(segments, pos)

    with pytest.raises(NotPlayableMp4, match="too large"):
        probe(reader, reader.size)
    assert reader.calls == mp4.MAX_FETCHES
