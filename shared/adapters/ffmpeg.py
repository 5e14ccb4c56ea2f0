"""ffmpeg, the one subprocess the platform runs: grab one frame of a video as a JPEG.

ffmpeg reads the video from a (signed) URL with ranged requests, so nothing is downloaded
whole; the frame comes back on stdout.
"""

from __future__ import annotations

import subprocess
from decimal import Decimal

TIMEOUT_SECONDS = 120
_JPEG = b"\xff\xd8"


class FrameFailed(RuntimeError):
    """ffmpeg ran but produced no JPEG; the message ends with its stderr."""


def grab_frame(url: str, *, at_seconds: Decimal, max_width: int) -> bytes:
    """One JPEG frame of the video at `url`, `at_seconds` in, scaled down to at most
    `max_width` pixels wide (never up). Raises FrameFailed when ffmpeg fails, and
    subprocess.TimeoutExpired after TIMEOUT_SECONDS."""
    proc = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-ss",
            str(at_seconds),
            "-i",
            url,
            "-frames:v",
            "1",
            "-vf",
            f"scale='min({max_width},iw)':-2",
            "-f",
            "image2",
            "-c:v",
            "mjpeg",
            "pipe:1",
        ],
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.startswith(_JPEG):
        raise FrameFailed(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return proc.stdout
