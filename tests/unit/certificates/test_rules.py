"""Pure rules of certificates: codes people can type, the hashed holder, event parsing."""

import hashlib
import uuid

import pytest

from shared.certificates import rules


def test_codes_use_only_unambiguous_symbols_and_are_long_enough():
    codes = {rules.new_code() for _ in range(2000)}
    assert len(codes) == 2000  # 60 random bits: no collision in a few thousand
    for code in codes:
        assert len(code) == 12
        assert not set(code) & set("0O1I")
        assert set(code) <= set(rules.ALPHABET)
    assert len(rules.ALPHABET) == 32 and not set(rules.ALPHABET) & set("0O1Iabc")


def test_a_code_is_shown_in_groups_and_read_back_however_it_is_typed():
    code = "ABCD2345WXYZ"
    assert rules.display_code(code) == "ABCD-2345-WXYZ"
    for typed in ("ABCD-2345-WXYZ", "abcd2345wxyz", " abcd 2345-wxyz ", "ABCD2345WXYZ"):
        assert rules.normalize_code(typed) == code


@pytest.mark.parametrize(
    "typed", ["", "ABCD-2345-WXY", "ABCD-2345-WXYZ2", "ABCD-2345-WXY0", "ABCD-2345-WXYI", "A/B"]
)
def test_what_cannot_be_a_code_is_refused(typed):
    assert rules.normalize_code(typed) is None


def test_identity_hash_is_the_ob3_salted_sha256_of_the_normalised_email():
    salt = "s4lt"
    expected = "sha256$" + hashlib.sha256(b"ana@example.com" + b"s4lt").hexdigest()
    assert rules.identity_hash(" Ana@Example.com ", salt) == expected
    assert rules.identity_hash("ana@example.com", "other") != expected


def _completed(**over):
    env = {
        "id": str(uuid.uuid4()),
        "type": "course.completed",
        "channel_id": str(uuid.uuid4()),
        "data": {
            "user_id": str(uuid.uuid4()),
            "course_id": str(uuid.uuid4()),
            "enrollment_id": str(uuid.uuid4()),
            "completed_at": "2026-01-01T00:00:00Z",
        },
    }
    env.update(over)
    return env


def test_a_course_completed_envelope_parses_to_its_ids():
    env = _completed()
    d = env["data"]
    assert rules.parse_completed(env) == (
        env["id"],
        env["channel_id"],
        d["user_id"],
        d["course_id"],
        d["enrollment_id"],
    )


@pytest.mark.parametrize(
    "env",
    [
        None,
        [],
        _completed(type="lesson.completed"),
        _completed(id=""),
        _completed(channel_id="nope"),
        _completed(data="x"),
        _completed(data={"user_id": "x", "course_id": str(uuid.uuid4())}),
        _completed(data={"user_id": str(uuid.uuid4())}),
        _completed(
            data={"user_id": str(uuid.uuid4()), "course_id": str(uuid.uuid4()), "enrollment_id": 7}
        ),
    ],
)
def test_malformed_events_say_why(env):
    assert isinstance(rules.parse_completed(env), str)


def test_the_verify_url_carries_the_typed_form_of_the_code():
    assert rules.verify_url("ABCD2345WXYZ", base_url="https://x.test/") == (
        "https://x.test/c/ABCD-2345-WXYZ"
    )


def test_share_links_point_at_the_public_page_or_the_download():
    from urllib.parse import parse_qs, urlsplit

    kw = {
        "verify_url": "https://x.test/c/ABCD-EFGH-JKLM",
        "text": "Ana completed Café & Co",
        "download_url": "https://x.test/dl",
        "code": "ABCD-EFGH-JKLM",
    }
    linkedin = urlsplit(rules.share_url("linkedin", **kw))
    assert linkedin.netloc == "www.linkedin.com"
    assert parse_qs(linkedin.query) == {"url": [kw["verify_url"]]}
    x = urlsplit(rules.share_url("x", **kw))
    assert x.netloc == "x.com"
    assert parse_qs(x.query) == {"text": [kw["text"]], "url": [kw["verify_url"]]}
    assert rules.share_url("download", **kw) == "https://x.test/dl"
    with pytest.raises(ValueError):
        rules.share_url("myspace", **kw)
