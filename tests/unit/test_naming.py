"""AWS names are deterministic, within limits, and distinct after shortening."""

import re

from aenv.naming import EnvironmentRef, aws_name


def test_short_names_read_plainly() -> None:
    env = EnvironmentRef("analytics-prod", "defi", "uid-1")
    assert aws_name(env, "events", max_length=80) == "aenv-analytics-prod-defi-events"
    assert aws_name(env, "events", max_length=80, suffix=".fifo") == "aenv-analytics-prod-defi-events.fifo"


def test_long_names_are_shortened_with_a_stable_hash() -> None:
    env = EnvironmentRef("n" * 63, "e" * 63, "uid")
    a = aws_name(env, "events", max_length=80, suffix=".fifo")
    assert len(a) <= 80 and a.endswith(".fifo")
    assert a == aws_name(EnvironmentRef("n" * 63, "e" * 63, "other-uid"), "events", max_length=80, suffix=".fifo")
    assert re.fullmatch(r"[a-zA-Z0-9-]+-[0-9a-f]{8}\.fifo", a)


def test_names_that_share_a_long_prefix_stay_distinct() -> None:
    env = EnvironmentRef("n" * 63, "e" * 63, "uid")
    names = {aws_name(env, f"queue-{i}", max_length=40) for i in range(100)}
    assert len(names) == 100
    assert all(len(n) <= 40 for n in names)


def test_characters_a_service_refuses_are_replaced() -> None:
    env = EnvironmentRef("team.a", "env_1", "uid")
    assert aws_name(env, "q", max_length=80) == "aenv-team-a-env-1-q"
    assert aws_name(env, "q", max_length=80, invalid=r"[^a-zA-Z0-9_-]") == "aenv-team-a-env_1-q"
