"""AWS names are deterministic, within limits, and distinct after shortening."""

import re

from aenv.api.spec import Aws, EnvironmentSpec, Workload
from aenv.naming import EnvironmentRef, aws_name
from aenv.plan import connection, iam, workloads


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


LONGEST = "e" * 192  # the longest metadata.name the CRD admits


def test_short_names_are_kept_whole() -> None:
    env = EnvironmentRef("analytics-prod", "defi", "uid")
    assert env.label == "defi"
    assert connection.secret_name(env) == "defi-connection"
    assert iam.service_account(env) == "aenv-defi-workloads"


def test_a_label_value_fits_63_characters_and_keeps_two_environments_apart() -> None:
    a, b = EnvironmentRef("ns", "x" * 63, "u"), EnvironmentRef("ns", "x" * 64, "u")
    assert a.label == "x" * 63
    assert len(b.label) == 63 and b.label != a.label
    assert EnvironmentRef("ns", "x" * 64, "other").label == b.label  # stable: the same name, the same value
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?", EnvironmentRef("ns", "a." * 96, "u").label)


def test_object_names_fit_their_kinds_and_keep_their_suffix() -> None:
    env = EnvironmentRef("n" * 63, LONGEST, "u")
    secret, account = connection.secret_name(env), iam.service_account(env)
    assert len(secret) <= 253 and secret.endswith("-connection")
    assert len(account) <= 253 and account.startswith("aenv-") and account.endswith("-workloads")
    assert secret != connection.secret_name(EnvironmentRef("n", LONGEST[:-1] + "f", "u"))


def test_every_object_of_the_longest_environment_fits_its_kind() -> None:
    env = EnvironmentRef("n" * 63, LONGEST, "uid")
    w = Workload(name="w" * 40, image="i")
    spec = EnvironmentSpec(tier="dev", aws=Aws(region="us-east-1"), workloads=[w])
    template = workloads.pod_template(env, spec, w)
    rev = workloads.revision(template)
    objects = [workloads.replica_set(env, w, template, rev, 1), workloads.service_account_object(env, None),
               *(workloads.service(env, w, suffix, rev) for suffix in ("", "stable", "canary", "preview"))]
    for obj in objects:
        meta = obj["metadata"]
        limit = 63 if obj["kind"] == "Service" else 253
        assert len(meta["name"]) <= limit, meta["name"]
        assert all(len(v) <= 63 for v in meta["labels"].values()), meta["labels"]
    assert all(len(v) <= 63 for v in template["metadata"]["labels"].values())
    tag = env.tags("queues")["aenv.dev/environment"]
    assert len(tag) == 256  # the AWS tag value limit, reached exactly by the longest names
