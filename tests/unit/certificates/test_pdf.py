"""The renderer in-process: it fetches nothing but our assets (a local server counts any
request), prints names in every script with the shipped fonts only, and those fonts are the
files SHA256SUMS lists."""

import hashlib
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pypdf
import pytest

from shared.certificates import design, pdf


@pytest.fixture
def server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", hits
    httpd.shutdown()


def ctx(name="Zoë"):
    return design.context(
        {**design.SAMPLE, "holder_name": name}, theme={}, has_logo=False, has_signature=False
    )


def test_nothing_is_fetched_whatever_the_template_builds(server, tmp_path):
    base, hits = server
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n")
    html = (
        design.default_html()
        + f'<img src="{base}/img.png"><link rel="stylesheet" href="{base}/x.css">'
        + f'<img src="file://{secret}"><object data="{base}/o"></object>'
    )
    css = f"@import url({base}/i.css); .frame{{background:url({base}/bg.png)}}"
    body = pdf.render(html=html, css=css, ctx=ctx(), images={})
    assert body.startswith(b"%PDF-")
    assert hits == []
    # the QR code still comes through (our asset), and nothing else did
    assert len(pypdf.PdfReader(io.BytesIO(body)).pages[0].images) == 1


def test_a_glyph_no_shipped_font_has_costs_no_system_font_scan():
    # U+1F600 and U+0E01 (Thai) are in none of the shipped fonts: fontconfig looks through
    # the five shipped files only (weasyprint#2811), and the PDF embeds none but them.
    pdf.render(html=design.default_html(), css="", ctx=ctx(), images={})  # warm
    start = time.perf_counter()
    body = pdf.render(html=design.default_html(), css="", ctx=ctx("Ada 😀 ก"), images={})
    assert time.perf_counter() - start < 5  # seconds per glyph without the private config
    reader = pypdf.PdfReader(io.BytesIO(body))
    fonts = {
        str(f.get_object()["/BaseFont"]).split("+", 1)[-1]
        for f in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert fonts and all(f.startswith("Noto-Sans") for f in fonts), fonts


def test_the_shipped_fonts_are_the_files_listed():
    sums = (pdf.FONTS / "SHA256SUMS").read_text().split("\n")
    listed = dict(reversed(line.split("  ", 1)) for line in sums if line.strip())
    on_disk = {p.name for p in pdf.FONTS.iterdir() if p.suffix in (".ttf", ".otf")}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((pdf.FONTS / name).read_bytes()).hexdigest() == digest, name
    total = sum((pdf.FONTS / n).stat().st_size for n in on_disk)
    assert total < 25 * 2**20  # the repository stays reasonable


def test_the_private_font_configuration_leaves_the_process_environment_alone(monkeypatch):
    import os

    monkeypatch.setattr(pdf, "_fonts", None)
    monkeypatch.delenv("FONTCONFIG_FILE", raising=False)
    pdf.font_configuration()
    assert "FONTCONFIG_FILE" not in os.environ
