"""What a change does to the monthly cost, for `aenv plan`: before -> after, per component that changes. Pure."""

from __future__ import annotations

from .estimate import Estimate


def lines(before: Estimate | None, after: Estimate) -> list[str]:
    """`before` is the environment as it is (None: there is none yet, or it was not read)."""
    was = before.by_component() if before else {}
    now = after.by_component()
    total = f"{after.monthly_usd:.2f} USD/month (prices of {after.as_of}, {after.region})"
    if before is None:
        out = [f"Cost: {total}"]
    else:
        change = after.monthly_usd - before.monthly_usd
        out = [f"Cost: {before.monthly_usd:.2f} -> {total}, {change:+.2f}"]
    for component in [*now, *(c for c in was if c not in now)]:
        old, new = was.get(component, 0.0), now.get(component, 0.0)
        if old != new:
            out.append(f"  {component:12} {old:10.2f} -> {new:10.2f}  {new - old:+.2f}")
    out += [f"  unpriced: {u}" for u in after.unpriced]
    return out
