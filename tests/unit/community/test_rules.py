"""Pure rules of the community: hostile Markdown never survives into HTML, mentions, one-level
threads, who sees a space, spam checks, and the moderation state transitions."""

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from shared.community import rules

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<svg onload="alert(1)"><circle/></svg>',
    "<iframe src=https://evil.example></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#x3A;alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![track](https://tracker.example/pixel.gif)",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    "`<script>` and ```\n<script>alert(1)</script>\n```",
    '<form action="javascript:alert(1)"><input type=submit></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '[click](https://ok.example "title onmouseover=alert(1)")',
    "<!-- <script>alert(1)</script> -->",
]


class _Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_never_survives_into_html(text):
    html = rules.render_markdown(text)
    for tag, attrs in _elements(html):
        assert tag in rules.ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert name in {"href", "title", "rel", "start"}, (name, html)  # no on*, style, src
            if name == "href":
                scheme = (value or "").split(":", 1)[0].strip().lower()
                assert scheme in ("http", "https", "mailto") or ":" not in (value or ""), html
    lowered = html.lower()
    for bad in ("<script", "<img", "<iframe", "<svg", "<style", "<form", "<details"):
        assert bad not in lowered, html


def test_safe_markdown_renders_and_links_are_nofollow_ugc():
    html = rules.render_markdown(
        "# Title\n\n**b** *i* ~~s~~ `c`\n\n- one\n- two\n\n> quote\n\n[site](https://a.example/x?y=1)"
    )
    assert "<h1>Title</h1>" in html and "<strong>b</strong>" in html and "<em>i</em>" in html
    assert "<del>s</del>" in html or "<s>s</s>" in html
    assert "<code>c</code>" in html and "<li>one</li>" in html and "<blockquote>" in html
    assert '<a href="https://a.example/x?y=1" rel="nofollow ugc noopener">site</a>' in html


def test_text_is_escaped_not_interpreted():
    html = rules.render_markdown("1 < 2 & 3 > 2 \"q\" 'a'")
    assert "&lt;" in html and "&amp;" in html and "<2" not in html


def test_mentions_are_parsed_by_id_and_rendered_as_names():
    a, b = "0190f1b2-0000-7000-8000-000000000001", "0190F1B2-0000-7000-8000-00000000000B"
    text = f"hi @[Ann Lee]({a}) and @[Bo]({b}) and again @[Ann]({a}) but not @Ann or @[x](y)"
    assert rules.mentioned_user_ids(text) == [a, b.lower()]
    html = rules.render_markdown(text)
    assert "@Ann Lee" in html and "@Bo" in html and a not in html


def test_a_mention_name_cannot_smuggle_markup():
    uid = "0190f1b2-0000-7000-8000-000000000001"
    html = rules.render_markdown(f"@[<img src=x onerror=alert(1)>]({uid}) @[**x**]({uid})")
    assert "<img" not in html and "<strong>" not in html and "@**x**" in html


def test_mentions_are_capped():
    ids = [f"0190f1b2-0000-7000-8000-{i:012d}" for i in range(30)]
    text = " ".join(f"@[u]({i})" for i in ids)
    assert rules.mentioned_user_ids(text) == ids[: rules.MAX_MENTIONS]


def test_threads_are_one_level_a_reply_to_a_reply_joins_its_top_comment():
    assert rules.thread_parent(None, None) is None
    assert rules.thread_parent("top", None) == "top"
    assert rules.thread_parent("reply", "top") == "top"


@pytest.mark.parametrize(
    ("role", "kind", "course", "batch", "visible"),
    [
        (None, "members", True, True, False),
        ("student", "members", False, False, True),
        ("student", "course", False, False, False),
        ("student", "course", True, False, True),
        ("student", "batch", True, False, False),
        ("student", "batch", False, True, True),
        ("moderator", "batch", False, False, True),
        ("instructor", "course", False, False, True),
        ("owner", "members", False, False, True),
    ],
)
def test_space_visibility(role, kind, course, batch, visible):
    got = rules.space_visible(
        role=role, audience_kind=kind, enrolled_in_course=course, enrolled_in_batch=batch
    )
    assert got is visible


def test_blocked_words_match_whole_words_case_insensitively():
    words = ["casino", "free money"]
    assert rules.blocked_word("Visit the CASINO now", words) == "casino"
    assert rules.blocked_word("get FREE  money", words) is None  # phrase needs its spacing
    assert rules.blocked_word("get free money!", words) == "free money"
    assert rules.blocked_word("occasinos", words) is None
    assert rules.blocked_word("anything", []) is None


def test_links_are_counted_and_capped_for_new_students_only():
    s = rules.Settings(new_member_days=7, new_member_max_links=1)
    now = datetime(2026, 1, 10, tzinfo=UTC)
    text = "a https://x.example b [c](https://y.example) www.z.example"
    assert rules.link_count(text) == 3
    new, old = now - timedelta(days=1), now - timedelta(days=8)
    assert rules.too_many_links(text=text, role="student", joined_at=new, now=now, settings=s)
    assert not rules.too_many_links(text=text, role="student", joined_at=old, now=now, settings=s)
    assert not rules.too_many_links(text=text, role="moderator", joined_at=new, now=now, settings=s)
    assert not rules.too_many_links(
        text="one https://x.example", role="student", joined_at=new, now=now, settings=s
    )


def test_auto_hide_at_the_threshold_of_distinct_flags_on_visible_content():
    assert not rules.should_auto_hide(open_distinct_flags=2, threshold=3, status="visible")
    assert rules.should_auto_hide(open_distinct_flags=3, threshold=3, status="visible")
    assert not rules.should_auto_hide(open_distinct_flags=9, threshold=3, status="removed")


@pytest.mark.parametrize(
    ("action", "current", "after"),
    [
        ("remove", "visible", "removed"),
        ("remove", "hidden", "removed"),
        ("restore", "removed", "visible"),
        ("restore", "hidden", "visible"),
        ("restore", "visible", None),
        ("dismiss", "hidden", "visible"),
        ("dismiss", "visible", "visible"),
        ("dismiss", "removed", "removed"),
        ("ban_user", "visible", "removed"),
        ("remove", "deleted", None),
        ("restore", "deleted", None),
        ("explode", "visible", None),
    ],
)
def test_moderation_transitions(action, current, after):
    assert rules.status_after(action, current) == after


def test_listed_statuses():
    assert rules.listed("visible", include_removed=False)
    assert not rules.listed("hidden", include_removed=False)
    assert rules.listed("removed", include_removed=True)
    assert not rules.listed("deleted", include_removed=True)


def test_excerpt_is_one_line_and_bounded():
    assert rules.plain_excerpt("a\n\nb   c") == "a b c"
    long = rules.plain_excerpt("x" * 500, limit=50)
    assert len(long) == 50 and long.endswith("…")
