"""`aenv plan`'s cost lines: before -> after for the components that change, from two estimates."""

from aenv.cost.delta import lines
from aenv.cost.estimate import Estimate, Item


def est(**usd: float) -> Estimate:
    return Estimate("us-east-1", "2025-06-01", tuple(Item(c, v, "") for c, v in usd.items()))


def test_a_change_shows_the_total_and_only_the_components_that_change() -> None:
    out = lines(est(cache=94.9, queues=0.9, secrets=2.0), est(cache=765.624, queues=0.9, gateway=1.1095))
    assert out[0] == "Cost: 97.80 -> 767.63 USD/month (prices of 2025-06-01, us-east-1), +669.83"
    assert [line.split()[0] for line in out[1:]] == ["cache", "gateway", "secrets"]
    assert out[1].split() == ["cache", "94.90", "->", "765.62", "+670.72"]
    assert out[3].split() == ["secrets", "2.00", "->", "0.00", "-2.00"]


def test_a_new_environment_has_no_before_and_names_what_is_unpriced() -> None:
    after = Estimate("sa-east-1", "2025-06-01", unpriced=("spec.aws.region: sa-east-1",))
    assert lines(None, after) == ["Cost: 0.00 USD/month (prices of 2025-06-01, sa-east-1)",
                                  "  unpriced: spec.aws.region: sa-east-1"]
