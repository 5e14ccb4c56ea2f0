"""Watch-time rules (shared.learning.rules): examples, then seeded property-style checks."""

import itertools
import math
import random

import pytest

from shared.learning.rules import (
    MAX_PLAYBACK_RATE,
    Beat,
    LessonWatch,
    completion_threshold,
    course_percent,
    credited_interval,
    distinct_seconds,
    is_complete,
    merge,
)

D = 600.0  # a ten-minute video


def test_first_heartbeat_of_a_session_credits_nothing():
    assert credited_interval(None, position=10, at=100, duration=D) is None


def test_playing_forward_in_real_time_is_credited():
    prev = Beat(position=10, playing=True, at=100)
    assert credited_interval(prev, position=20, at=110, duration=D) == (10, 20)


def test_after_a_pause_nothing_is_credited():
    prev = Beat(position=10, playing=False, at=100)
    assert credited_interval(prev, position=20, at=110, duration=D) is None


def test_the_span_up_to_a_pause_counts():
    prev = Beat(position=10, playing=True, at=100)
    # the heartbeat says "paused now": the player still played 10 -> 18 before pausing
    assert credited_interval(prev, position=18, at=110, duration=D) == (10, 18)


def test_seeking_backwards_credits_nothing():
    prev = Beat(position=300, playing=True, at=100)
    assert credited_interval(prev, position=20, at=110, duration=D) is None


def test_claim_beyond_real_time_is_capped():
    prev = Beat(position=0, playing=True, at=100)
    got = credited_interval(prev, position=500, at=110, duration=D)
    assert got == (0, 10 * MAX_PLAYBACK_RATE)


def test_no_server_time_elapsed_credits_nothing():
    prev = Beat(position=0, playing=True, at=100)
    assert credited_interval(prev, position=5, at=100, duration=D) is None
    assert credited_interval(prev, position=5, at=99, duration=D) is None


def test_positions_are_clamped_to_the_video():
    prev = Beat(position=595, playing=True, at=100)
    assert credited_interval(prev, position=700, at=110, duration=D) == (595, 600)
    prev = Beat(position=-5, playing=True, at=100)
    assert credited_interval(prev, position=3, at=110, duration=D) == (0, 3)
    prev = Beat(position=math.nan, playing=True, at=100)
    assert credited_interval(prev, position=3, at=110, duration=D) == (0, 3)


def test_merge_joins_overlapping_and_touching_intervals():
    assert merge([(5, 10), (0, 3), (3, 4), (9, 12), (20, 20)]) == [(0, 4), (5, 12)]
    assert distinct_seconds([(0, 10), (5, 15), (0, 10)]) == 15


def test_completion_at_ninety_percent():
    assert completion_threshold(100) == 90
    assert not is_complete(89.999, 100)
    assert is_complete(90, 100)
    assert not is_complete(0, 0)


def test_replaying_does_not_inflate_distinct_seconds():
    watched = [(0, 30)] * 10
    assert distinct_seconds(watched) == 30
    assert not is_complete(distinct_seconds(watched), 60)


def test_course_percent_is_whole_and_only_100_when_all_done():
    assert course_percent(0, 0) == 0
    assert course_percent(2, 3) == 66
    assert course_percent(299, 300) == 99
    assert course_percent(3, 3) == 100


# -- properties (seeded, so a failure reproduces) ----------------------------------------------
def _random_session(rng: random.Random, duration: float, steps: int):
    """A player session: real time moves forward; position plays, seeks, pauses, lies."""
    t, pos, playing = 1000.0, rng.uniform(0, duration), True
    beats = [(pos, playing, t)]
    for _ in range(steps):
        dt = rng.choice([0, 0.5, 1, 5, 10, 15, 30])
        t += dt
        move = rng.random()
        if move < 0.5 and playing:
            pos += dt * rng.choice([1, 1, 1.5, 2])
        elif move < 0.6:
            pos = rng.uniform(0, duration)  # seek
        elif move < 0.7:
            pos += rng.uniform(100, 1000)  # a lie: more than real time allows
        playing = rng.random() > 0.2
        beats.append((pos, playing, t))
    return beats


def _credited(beats, duration):
    out, prev = [], None
    for pos, playing, at in beats:
        got = credited_interval(prev, position=pos, at=at, duration=duration)
        if got:
            out.append(got)
        prev = Beat(pos, playing, at)
    return out


@pytest.mark.parametrize("seed", range(200))
def test_credited_time_never_exceeds_what_real_time_allows(seed):
    rng = random.Random(seed)
    duration = rng.choice([30.0, 95.5, 600.0, 3600.0])
    beats = _random_session(rng, duration, rng.randint(1, 60))
    credited = _credited(beats, duration)
    elapsed = beats[-1][2] - beats[0][2]
    total = sum(b - a for a, b in credited)
    assert total <= elapsed * MAX_PLAYBACK_RATE + 1e-6
    for a, b in credited:
        assert 0 <= a < b <= duration
    assert distinct_seconds(credited) <= min(total, duration) + 1e-6


@pytest.mark.parametrize("seed", range(200))
def test_merge_is_a_union(seed):
    rng = random.Random(seed)
    intervals = []
    for _ in range(rng.randint(0, 30)):
        a = rng.randint(0, 100)
        intervals.append((a, a + rng.randint(0, 20)))
    merged = merge(intervals)
    # disjoint, sorted, non-touching
    for (_, b1), (a2, _) in itertools.pairwise(merged):
        assert b1 < a2
    # the same set of covered unit seconds (integer endpoints)
    covered = {s for a, b in intervals for s in range(a, b)}
    assert {s for a, b in merged for s in range(int(a), int(b))} == covered
    assert distinct_seconds(intervals) == len(covered)
    # order and duplication do not matter
    shuffled = intervals * 2
    rng.shuffle(shuffled)
    assert merge(shuffled) == merged


# -- one student's lesson, any number of players (issue 16, item 4) -----------------------------
def test_a_window_claimed_by_one_player_is_not_credited_to_another():
    lesson = LessonWatch(D)
    assert lesson.beat("a", position=0, playing=True, at=100) is None
    assert lesson.beat("b", position=300, playing=True, at=100) is None
    assert lesson.beat("a", position=10, playing=True, at=110) == (0, 10)
    assert lesson.beat("b", position=310, playing=True, at=110) is None  # same 10 s: claimed
    assert lesson.beat("b", position=315, playing=True, at=115) == (310, 315)  # 5 s after it
    assert lesson.claimed_until == 115


def test_a_paused_player_claims_nothing_and_a_late_beat_changes_nothing():
    lesson = LessonWatch(D)
    lesson.beat("a", position=0, playing=False, at=100)
    lesson.beat("b", position=50, playing=True, at=100)
    assert lesson.beat("a", position=0, playing=True, at=110) is None  # was paused: no claim
    assert lesson.claimed_until is None
    assert lesson.beat("b", position=60, playing=True, at=110) == (50, 60)
    assert lesson.beat("b", position=70, playing=True, at=105) is None  # late
    assert lesson.sessions["b"] == Beat(60, True, 110) and lesson.claimed_until == 110


def test_n_staggered_players_do_not_watch_n_times_faster():
    """Four players a quarter of the video apart, beats 10 s apart and 2.5 s out of step: on
    per-session caps each credited its own 10 s, 4x real time; now at most the 2x one player
    may claim."""
    players, ticks = 4, 16
    beats = lesson_beats(players, ticks)
    lesson, credited = LessonWatch(D), []
    for session, pos, playing, at in beats:
        got = lesson.beat(session, position=pos, playing=playing, at=at)
        if got:
            credited.append(got)
    elapsed = beats[-1][3] - beats[0][3]
    total = sum(b - a for a, b in credited)
    assert total <= elapsed * MAX_PLAYBACK_RATE + 1e-6
    assert not is_complete(distinct_seconds(credited), D)
    old = _credited_each(beats, D)  # what per-session caps credited: 4x real time, complete
    assert sum(b - a for a, b in old) == pytest.approx(players * 10.0 * (ticks - 1))
    assert is_complete(distinct_seconds(old), D)


def lesson_beats(players: int, ticks: int):
    return [
        (f"p{p}", p * D / players + 10.0 * k, True, 10.0 * k + 2.5 * p)
        for k in range(ticks)
        for p in range(players)
    ]


def _credited_each(beats, duration):
    """The old rule: every session capped on its own."""
    out, prev = [], {}
    for session, pos, playing, at in beats:
        got = credited_interval(prev.get(session), position=pos, at=at, duration=duration)
        if got:
            out.append(got)
        prev[session] = Beat(pos, playing, at)
    return out


@pytest.mark.parametrize("seed", range(200))
def test_one_player_is_credited_as_before_and_many_never_beat_real_time(seed):
    rng = random.Random(seed)
    duration = rng.choice([30.0, 95.5, 600.0, 3600.0])
    beats = _random_session(rng, duration, rng.randint(1, 60))
    alone = LessonWatch(duration)
    got = [alone.beat("s", position=p, playing=pl, at=at) for p, pl, at in beats]
    assert [g for g in got if g] == _credited(beats, duration)
    # the same beats spread over several players, in arrival order
    many, credited = LessonWatch(duration), []
    for pos, playing, at in beats:
        got1 = many.beat(f"s{rng.randrange(4)}", position=pos, playing=playing, at=at)
        if got1:
            credited.append(got1)
    elapsed = beats[-1][2] - beats[0][2]
    assert sum(b - a for a, b in credited) <= elapsed * MAX_PLAYBACK_RATE + 1e-6
