"""A channel's certificate design: the Jinja2 template (HTML body + CSS), checked when saved,
and the document the renderer turns into a PDF. Pure (no I/O besides reading the shipped
default template); pdf.py does the rendering.

What a template may do is bounded three times over: Jinja2's sandbox (no attribute access to
Python internals), a scan of the sample rendering for anything the renderer would fetch (only
our `asset:` names and inline `data:` images pass), and at render time a URL fetcher that
refuses the rest anyway (a template can build a URL the scan never saw)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).with_name("templates")
MAX_HTML = 65536
MAX_CSS = 65536
MAX_IMAGE = 262144
# The images a template can show, served by the renderer from what the channel stored.
ASSETS = ("logo", "signature", "qr")
IMAGE_TYPES = ("image/png", "image/jpeg")
_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|svg\+xml)(?:;[a-z0-9=.+-]+)*,", re.I)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.I | re.S)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)""", re.I)
# Attributes whose URL the renderer would fetch (an <a href> is a link in the PDF, not a fetch).
_FETCHED = {
    "img": ("src", "srcset"),
    "image": ("href", "xlink:href", "src"),
    "use": ("href", "xlink:href"),
    "link": ("href",),
    "object": ("data",),
    "embed": ("src",),
    "iframe": ("src",),
    "frame": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "source": ("src", "srcset"),
    "input": ("src",),
    "script": ("src",),
    "base": ("href",),
    "feimage": ("href", "xlink:href"),
}

# The shipped fonts (pdf.py) by family, first match wins per glyph; the page is A4 landscape
# unless the channel's stylesheet says otherwise.
FAMILIES = ("Noto Sans", "Noto Sans Arabic", "Noto Sans CJK SC")
BASE_CSS = (
    "@page{size:A4 landscape;margin:0}"
    "html,body{margin:0;height:100%}"
    "body{font-family:" + ",".join(f'"{f}"' for f in FAMILIES) + "}"
    # The QR code is a 1-pixel-per-module PNG: scaled up without smoothing it stays sharp.
    'img[src="asset:qr"]{image-rendering:pixelated}'
)

SAMPLE = {
    "holder_name": "Nguyễn Thị Ánh",
    "course_title": "Sample course",
    "channel_name": "Sample channel",
    "issued_on": date(2026, 1, 15).isoformat(),
    "code": "ABCD-EFGH-JKLM",
    "verify_url": "https://example.invalid/c/ABCD-EFGH-JKLM",
}


class TemplateProblem(ValueError):
    """Why a template cannot be saved (the field and a sentence)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


_ENV = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def default_html() -> str:
    return (TEMPLATES / "certificate_pdf.html").read_text(encoding="utf-8")


def default_css() -> str:
    return (TEMPLATES / "certificate_pdf.css").read_text(encoding="utf-8")


def context(
    cert: dict[str, Any], *, theme: dict[str, str], has_logo: bool, has_signature: bool
) -> dict[str, Any]:
    """What a template sees: the certificate as printed, the channel's theme tokens, and the
    asset names of the images (None when the channel stored none)."""
    return {
        "holder_name": cert["holder_name"],
        "course_title": cert["course_title"],
        "channel_name": cert["channel_name"],
        "issued_on": cert["issued_on"],
        "code": cert["code"],
        "verify_url": cert["verify_url"],
        "theme": dict(theme),
        "logo_url": "asset:logo" if has_logo else None,
        "signature_url": "asset:signature" if has_signature else None,
        "qr_url": "asset:qr",
    }


def render_html(body: str, css: str, ctx: dict[str, Any], *, base_css: str) -> str:
    """The whole document: our head (metadata, fonts, theme variables) around the channel's
    body. The head is ours so that every PDF carries its title, author and code."""
    return document(render_body(body, ctx), css, ctx, base_css=base_css)


def render_body(body: str, ctx: dict[str, Any]) -> str:
    return _ENV.from_string(body).render(**ctx)


def document(body_html: str, css: str, ctx: dict[str, Any], *, base_css: str) -> str:
    theme = ctx["theme"]
    variables = ";".join(
        f"--{k}:{v}" for k, v in sorted(theme.items()) if k != "logo_url" and _safe_token(v)
    )
    e = htmllib.escape
    title = f"Certificate {ctx['code']}: {ctx['holder_name']}, {ctx['course_title']}"
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{e(title)}</title>"
        f'<meta name="author" content="{e(ctx["channel_name"])}">'
        f'<meta name="description" content="{e(ctx["verify_url"])}">'
        f'<meta name="keywords" content="{e(ctx["code"])}">'
        '<meta name="generator" content="creator-platform certificates">'
        f"<style>{base_css}\n:root{{{variables}}}</style>"
        f"<style>{_no_close_tag(css)}</style>"
        f"</head><body>{body_html}</body></html>"
    )


def _safe_token(value: str) -> bool:
    return re.fullmatch(r"[#A-Za-z0-9 \-]{1,64}", value) is not None


def _no_close_tag(css: str) -> str:
    # CSS goes inside <style>: a `</style` in it would end the element and start markup.
    return re.sub(r"</(style)", r"<\\/\1", css, flags=re.I)


def fetched_urls(document: str) -> list[str]:
    """Every URL the renderer would fetch for a document: attributes of fetching elements,
    url() and @import in <style> and style attributes."""
    parser = _Fetches()
    parser.feed(document)
    parser.close()
    return parser.urls


class _Fetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = _FETCHED.get(tag.lower(), ())
        for name, value in attrs:
            if value is None:
                continue
            if name.lower() in names:
                if name.lower() == "srcset":
                    self.urls += [part.split()[0] for part in value.split(",") if part.split()]
                else:
                    self.urls.append(value.strip())
            if name.lower() == "style":
                self.urls += css_urls(value)
        self._in_style = tag.lower() == "style"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += css_urls(data)


def css_urls(css: str) -> list[str]:
    return [m.group(2).strip() for m in _CSS_URL.finditer(css)] + [
        m.group(1).strip() for m in _CSS_IMPORT.finditer(css)
    ]


def allowed_url(url: str) -> bool:
    """Only our asset names and inline images; never a network, file or relative URL."""
    if url.startswith("asset:"):
        return url.removeprefix("asset:") in ASSETS
    return _DATA_IMAGE.match(url) is not None


def check(html: str, css: str, *, base_css: str) -> None:
    """Raise TemplateProblem unless the template can be saved: within the size limits, valid
    Jinja2 that renders in the sandbox with sample data, fetching nothing but our assets, and
    printing the holder's name, the code and the verify URL (a certificate must show them)."""
    if len(html) > MAX_HTML:
        raise TemplateProblem("html", f"The template is longer than {MAX_HTML} characters.")
    if len(css) > MAX_CSS:
        raise TemplateProblem("css", f"The stylesheet is longer than {MAX_CSS} characters.")
    for url in css_urls(css):
        if not allowed_url(url):
            raise TemplateProblem("css", f"The stylesheet refers to {url[:80]!r}: " + _ONLY)
    try:
        _ENV.parse(html)
    except TemplateSyntaxError as err:
        msg = f"Template syntax error on line {err.lineno}: {err.message}"
        raise TemplateProblem("html", msg) from None
    ctx = context(
        {**SAMPLE},
        theme={"primary": "#4f46e5", "text": "#111827"},
        has_logo=True,
        has_signature=True,
    )
    try:
        body_html = render_body(html, ctx)
    except SecurityError as err:
        raise TemplateProblem("html", f"The template does something not allowed: {err}") from None
    except TemplateError as err:
        raise TemplateProblem("html", f"The template cannot render: {err}") from None
    for url in fetched_urls(document(body_html, css, ctx, base_css=base_css)):
        if not allowed_url(url):
            raise TemplateProblem("html", f"The template refers to {url[:80]!r}: " + _ONLY)
    shown = body_html.replace(htmllib.escape(SAMPLE["verify_url"], quote=False), " URL ")
    for key in ("holder_name", "code", "verify_url"):
        text = body_html if key == "verify_url" else shown  # the URL holds the code too
        if htmllib.escape(SAMPLE[key], quote=False) not in text:
            raise TemplateProblem("html", f"The template must print {{{{ {key} }}}}.")


_ONLY = (
    "a certificate may show only the channel's logo and signature (logo_url, signature_url),"
    " the QR code (qr_url) and inline data: images; nothing is fetched from elsewhere."
)
