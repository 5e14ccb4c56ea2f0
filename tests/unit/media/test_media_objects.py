"""The media.released contract: which names cleanup may touch, payload shape, parsing."""

import uuid

import pytest

from shared.media.rules import (
    MAX_OBJECTS_PER_EVENT,
    MEDIA_RELEASED,
    generated_thumbnail_name,
    owned_by,
    parse_released,
    released_payloads,
)

CH = str(uuid.uuid4())
OTHER = str(uuid.uuid4())


@pytest.mark.parametrize(
    "name",
    [
        f"channels/{CH}/uploads/{uuid.uuid4()}/Intro_video.mp4",
        generated_thumbnail_name(CH, str(uuid.uuid4()), str(uuid.uuid4())),
    ],
)
def test_objects_under_the_channels_media_subtrees_are_its_own(name):
    assert owned_by(name, CH)
    assert owned_by(name, CH.upper())  # the channel id is compared canonically


@pytest.mark.parametrize(
    "name",
    [
        f"channels/{OTHER}/uploads/{uuid.uuid4()}/v.mp4",  # another channel
        f"channels/{CH}/uploads/../../{OTHER}/uploads/x/v.mp4",  # climbs out
        f"channels/{CH}/uploads/./v.mp4",
        f"channels/{CH}/uploads/",  # the prefix itself
        f"channels/{CH}/exports/report.csv",  # not a subtree cleanup releases
        f"channels/{CH}",
        f"/channels/{CH}/uploads/x/v.mp4",
        f"channels/{CH}/uploads//v.mp4",
        f"channels/{CH}/uploads/x/v.mp4\n",
        f"channels/{CH}/uploads/x/{'a' * 1100}",
        "",
        None,
        42,
        [f"channels/{CH}/uploads/x/v.mp4"],
    ],
)
def test_anything_else_is_not(name):
    assert not owned_by(name, CH)


def test_payloads_drop_nones_and_repeats_and_split_long_lists():
    a, b = f"channels/{CH}/uploads/a/x", f"channels/{CH}/uploads/b/y"
    assert released_payloads([None, a, b, a, None], "lesson.deleted") == [
        {"objects": [a, b], "reason": "lesson.deleted"}
    ]
    assert released_payloads([None], "x") == []
    many = [f"channels/{CH}/uploads/{i}/f" for i in range(MAX_OBJECTS_PER_EVENT + 3)]
    chunks = released_payloads(many, "r")
    assert [len(c["objects"]) for c in chunks] == [MAX_OBJECTS_PER_EVENT, 3]
    assert [o for c in chunks for o in c["objects"]] == many


def envelope(**over):
    env = {
        "id": str(uuid.uuid4()),
        "type": MEDIA_RELEASED,
        "channel_id": CH,
        "data": {"objects": [f"channels/{CH}/uploads/a/x"], "reason": "video.replaced"},
    }
    env.update(over)
    return env


def test_a_well_formed_event_parses():
    env = envelope(channel_id=CH.upper())
    assert parse_released(env) == (env["id"], CH, env["data"]["objects"], "video.replaced")


@pytest.mark.parametrize(
    "env",
    [
        None,
        [],
        "text",
        envelope(type="lesson.deleted"),
        envelope(id=None),
        envelope(id=""),
        envelope(channel_id="not-a-uuid"),
        envelope(channel_id=None),
        envelope(data=None),
        envelope(data={"objects": [], "reason": "x"}),
        envelope(data={"objects": "channels/x", "reason": "x"}),
        envelope(data={"objects": [1], "reason": "x"}),
        envelope(data={"objects": ["a"] * (MAX_OBJECTS_PER_EVENT + 1), "reason": "x"}),
    ],
)
def test_malformed_events_say_why(env):
    assert isinstance(parse_released(env), str)
