"""Read an MP4 (ISO BMFF) container's header through bounded ranged reads.

`probe(read, size)` walks the top-level boxes (`ftyp`, `moov`, `mdat`, ...) reading only box
headers, then the few small boxes that matter (`mvhd` for timescale and duration, `hdlr` of each
track for its kind). It never reads media data, so a 5 GiB upload costs a handful of small
reads wherever `moov` sits (start with `-movflags +faststart`, or end of file). Handles 32-bit,
64-bit (`size == 1`) and to-end-of-file (`size == 0`) box sizes, and fragmented MP4 (duration
from `mvex/mehd`).

Pure: `read(start, end_inclusive) -> bytes` is supplied by the caller (GCS ranged reads in
production, a bytes slice in tests).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Read = Callable[[int, int], bytes]

BLOCK = 64 * 1024  # ranged reads are rounded to aligned blocks and cached
MAX_FETCHES = 48  # at most 48 blocks (3 MiB) read per file, whatever its size
MAX_BOXES = 4096  # boxes visited, all levels together
MAX_DURATION_SECONDS = 24 * 3600


class NotPlayableMp4(ValueError):
    """The object is not a playable MP4; the message is the reason shown to the uploader."""


@dataclass(frozen=True)
class Mp4Info:
    major_brand: str
    timescale: int
    duration_units: int
    has_video: bool
    has_audio: bool
    faststart: bool  # moov before mdat: playback can start before the whole file arrives

    @property
    def duration_seconds(self) -> Decimal:
        """Seconds, rounded to milliseconds (the `numeric(10, 3)` columns)."""
        exact = Decimal(self.duration_units) / Decimal(self.timescale)
        return exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Box:
    type: bytes
    start: int  # offset of the box header
    header: int  # header length (8, 16, or +16 for `uuid`)
    size: int  # whole box, header included

    @property
    def body(self) -> int:
        return self.start + self.header

    @property
    def end(self) -> int:
        return self.start + self.size


class _BlockReader:
    """Aligned, cached block reads with a hard cap on how many blocks are fetched."""

    def __init__(self, read: Read, size: int) -> None:
        self._read = read
        self.size = size
        self._blocks: dict[int, bytes] = {}
        self.fetches = 0

    def get(self, start: int, length: int) -> bytes:
        if start < 0 or length < 0 or start + length > self.size:
            raise NotPlayableMp4("a box points past the end of the file (truncated upload?)")
        out = bytearray()
        pos = start
        while pos < start + length:
            index = pos // BLOCK
            block = self._blocks.get(index)
            if block is None:
                if self.fetches >= MAX_FETCHES:
                    raise NotPlayableMp4("the MP4 header is too large or too fragmented to check")
                self.fetches += 1
                first = index * BLOCK
                last = min(first + BLOCK, self.size) - 1
                block = self._read(first, last)
                if len(block) != last - first + 1:
                    raise NotPlayableMp4("the file changed or is shorter than announced")
                self._blocks[index] = block
            offset = pos - index * BLOCK
            take = min(len(block) - offset, start + length - pos)
            out += block[offset : offset + take]
            pos += take
        return bytes(out)


def _boxes(r: _BlockReader, start: int, end: int, budget: list[int]) -> list[Box]:
    """The boxes laid end to end in [start, end); they must tile the range exactly."""
    boxes: list[Box] = []
    pos = start
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            raise NotPlayableMp4("too many boxes")
        if end - pos < 8:
            raise NotPlayableMp4("trailing bytes after the last box")
        size, kind = struct.unpack(">I4s", r.get(pos, 8))
        if not all(32 <= c < 127 for c in kind):
            raise NotPlayableMp4("not an MP4 container")
        header = 8
        if size == 1:  # 64-bit largesize follows the type
            if end - pos < 16:
                raise NotPlayableMp4("truncated 64-bit box header")
            (size,) = struct.unpack(">Q", r.get(pos + 8, 8))
            header = 16
        elif size == 0:  # the box runs to the end of its container (last box only)
            size = end - pos
        if kind == b"uuid":
            header += 16
        if size < header or pos + size > end:
            raise NotPlayableMp4(f"box '{_name(kind)}' at {pos} is truncated or malformed")
        boxes.append(Box(kind, pos, header, size))
        pos += size
    return boxes


def _name(kind: bytes) -> str:
    return kind.decode("latin-1")


def _child(boxes: list[Box], kind: bytes) -> Box | None:
    return next((b for b in boxes if b.type == kind), None)


def _full_box(r: _BlockReader, box: Box, want: int) -> bytes:
    if box.size - box.header < want:
        raise NotPlayableMp4(f"box '{_name(box.type)}' is too short")
    return r.get(box.body, want)


def _mvhd(r: _BlockReader, box: Box) -> tuple[int, int]:
    version = _full_box(r, box, 1)[0]
    if version == 1:
        data = _full_box(r, box, 32)
        timescale, duration = struct.unpack(">IQ", data[20:32])
        unknown = duration == 0xFFFFFFFFFFFFFFFF
    elif version == 0:
        data = _full_box(r, box, 20)
        timescale, duration = struct.unpack(">II", data[12:20])
        unknown = duration == 0xFFFFFFFF
    else:
        raise NotPlayableMp4(f"unsupported mvhd version {version}")
    return timescale, 0 if unknown else duration


def _mehd(r: _BlockReader, box: Box) -> int:
    version = _full_box(r, box, 1)[0]
    if version == 1:
        return struct.unpack(">Q", _full_box(r, box, 12)[4:12])[0]
    return struct.unpack(">I", _full_box(r, box, 8)[4:8])[0]


def _handler(r: _BlockReader, trak: Box, budget: list[int]) -> bytes | None:
    mdia = _child(_boxes(r, trak.body, trak.end, budget), b"mdia")
    if mdia is None:
        return None
    hdlr = _child(_boxes(r, mdia.body, mdia.end, budget), b"hdlr")
    if hdlr is None:
        return None
    # version/flags (4), pre_defined (4), handler_type (4)
    return _full_box(r, hdlr, 12)[8:12]


def probe(read: Read, size: int) -> Mp4Info:
    """Check that the object is a playable MP4 and return its header facts.

    Raises NotPlayableMp4 with a human reason otherwise. `read` errors (I/O) propagate as is,
    so the caller can tell a transient storage failure from a bad file.
    """
    if size < 16:
        raise NotPlayableMp4("the file is too small to be an MP4")
    r = _BlockReader(read, size)
    if r.get(4, 4) != b"ftyp":
        raise NotPlayableMp4("not an MP4 file (no 'ftyp' box at the start)")
    budget = [MAX_BOXES]
    top = _boxes(r, 0, size, budget)
    major_brand = _name(_full_box(r, top[0], 4))
    moov = _child(top, b"moov")
    if moov is None:
        raise NotPlayableMp4("no 'moov' box: the MP4 has no index (unfinished recording?)")
    mdat = _child(top, b"mdat")
    fragmented = _child(top, b"moof") is not None
    if mdat is None:
        raise NotPlayableMp4("no 'mdat' box: the MP4 holds no media data")

    children = _boxes(r, moov.body, moov.end, budget)
    mvhd = _child(children, b"mvhd")
    if mvhd is None:
        raise NotPlayableMp4("no 'mvhd' box in 'moov'")
    timescale, duration = _mvhd(r, mvhd)
    if timescale <= 0:
        raise NotPlayableMp4("the movie timescale is zero")
    mvex = _child(children, b"mvex")
    if duration == 0 and mvex is not None:
        mehd = _child(_boxes(r, mvex.body, mvex.end, budget), b"mehd")
        if mehd is not None:
            duration = _mehd(r, mehd)
    if duration <= 0:
        raise NotPlayableMp4(
            "fragmented MP4 without a declared duration"
            if fragmented
            else "the MP4 has no duration"
        )
    if duration / timescale > MAX_DURATION_SECONDS:
        raise NotPlayableMp4("the video is longer than 24 hours")

    handlers = [_handler(r, t, budget) for t in children if t.type == b"trak"]
    if not handlers:
        raise NotPlayableMp4("the MP4 has no tracks")
    return Mp4Info(
        major_brand=major_brand,
        timescale=timescale,
        duration_units=duration,
        has_video=b"vide" in handlers,
        has_audio=b"soun" in handlers,
        faststart=moov.start < mdat.start,
    )


def probe_bytes(data: bytes) -> Mp4Info:
    """`probe` over bytes already in memory (tests, small files)."""
    return probe(lambda start, end: data[start : end + 1], len(data))
