"""Certificate PDFs with weasyprint, the shipped Noto fonts only, and nothing fetched.

Fonts: fontconfig is given a private configuration listing only the fonts in `fonts/` (Latin
with diacritics incl. Vietnamese, Greek and Cyrillic: Noto Sans; Arabic: Noto Sans Arabic;
CJK: a subset of Noto Sans CJK SC). A glyph missing from the first family then costs a lookup
among five files, not a scan of every system font (weasyprint#2811: seconds per missing
glyph), and a PDF looks the same on every machine. The families are named by the base
stylesheet's `font-family` rather than loaded by `@font-face`, which weasyprint would re-read
and re-register for every document (12 MB of CJK each time); the configuration is built once
per process and reused.

URLs: a template reaches images only as `asset:logo`, `asset:signature`, `asset:qr` (served
from memory here) or inline `data:` images; the fetcher refuses everything else, whatever the
template managed to build, so rendering never touches the network or the file system."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import segno
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from shared.certificates import design

log = logging.getLogger("certificates.pdf")
FONTS = Path(__file__).with_name("fonts")
FAMILIES = design.FAMILIES
_lock = threading.Lock()
_fonts: FontConfiguration | None = None


def _fonts_conf(cache: Path) -> str:
    prefer = "".join(f"<family>{f}</family>" for f in FAMILIES)
    aliases = "".join(
        f"<alias><family>{generic}</family><prefer>{prefer}</prefer></alias>"
        for generic in ("sans-serif", "serif", "monospace", "system-ui")
    )
    return (
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>{FONTS}</dir><cachedir>{cache}</cachedir>"
        f"<config><rescan><int>0</int></rescan></config>{aliases}</fontconfig>"
    )


def font_configuration() -> FontConfiguration:
    """The process's font configuration: the shipped fonts and nothing else. fontconfig
    reads FONTCONFIG_FILE when the configuration is created; the variable is set only for
    that moment, so other libraries of the process keep the system's fonts."""
    global _fonts
    if _fonts is None:
        home = Path(tempfile.gettempdir()) / f"certificate-fonts-{os.getuid()}"
        (home / "cache").mkdir(parents=True, exist_ok=True)
        conf = home / "fonts.conf"
        conf.write_text(_fonts_conf(home / "cache"), encoding="utf-8")
        before = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = str(conf)
        try:
            _fonts = FontConfiguration()
        finally:
            if before is None:
                os.environ.pop("FONTCONFIG_FILE", None)
            else:
                os.environ["FONTCONFIG_FILE"] = before
    return _fonts


class AssetFetcher(URLFetcher):
    """Serves `asset:<name>` from memory and inline `data:` images; refuses the rest."""

    def __init__(self, assets: dict[str, tuple[bytes, str]]):
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.assets = assets
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("asset:") and url.removeprefix("asset:") in self.assets:
            body, media_type = self.assets[url.removeprefix("asset:")]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})
        if design.allowed_url(url) and url.startswith("data:"):
            return super().fetch(url, headers)
        self.refused.append(url[:200])
        raise ValueError(f"certificates fetch nothing from {url[:80]!r}")


def qr_png(url: str) -> bytes:
    """The QR code of a URL as a PNG, one pixel per module with the standard 4-module quiet
    zone (a scanner needs it; the stylesheet scales it up)."""
    import io

    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=1, border=4)
    return out.getvalue()


def render(
    *,
    html: str,
    css: str,
    ctx: dict[str, Any],
    images: dict[str, tuple[bytes, str]],
) -> bytes:
    """The PDF of a certificate (ctx: design.context) with the channel's images
    ({name: (bytes, media type)})."""
    document = design.render_html(html, css, ctx, base_css=design.BASE_CSS)
    assets = {**images, "qr": (qr_png(ctx["verify_url"]), "image/png")}
    fetcher = AssetFetcher(assets)
    with _lock:  # one font configuration per process; pango's font map is not thread-safe
        pdf = HTML(string=document, url_fetcher=fetcher).write_pdf(
            font_config=font_configuration(), pdf_identifier=ctx["code"].encode()
        )
    if fetcher.refused:
        log.warning("certificate %s: refused to fetch %s", ctx["code"], fetcher.refused)
    return bytes(pdf)
