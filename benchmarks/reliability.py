"""The reliability figures, one table: crashes, AWS faults, mass deletion, odd input, control-plane restarts,
secret leaks and least privilege. Each case starts the local stack it needs and returns its rows.

    PYTHONPATH=operator:benchmarks:. ~/.cache/aenv/venv/bin/python benchmarks/reliability.py  # every case, full counts
    # the counts `make test` uses
    PYTHONPATH=operator:benchmarks:. ~/.cache/aenv/venv/bin/python benchmarks/reliability.py --quick
    # one case (repeatable)
    PYTHONPATH=operator:benchmarks:. ~/.cache/aenv/venv/bin/python benchmarks/reliability.py --case crashes

Prints figures; exits 1 when a figure misses its goal.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from reliability_cases import CASES, Row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=CASES, help="run only this case (repeatable)")
    parser.add_argument("--quick", action="store_true", help="the smaller counts the test suite uses")
    args = parser.parse_args()
    rows: list[Row] = []
    for name in args.case or CASES:
        started = time.monotonic()
        module = importlib.import_module(f"reliability_cases.{name}")
        try:
            found: list[Row] = module.measure(quick=args.quick)
        except Exception as error:  # noqa: BLE001 - one broken case must not hide the others' figures
            found = [Row(name, "runs", f"failed: {type(error).__name__}: {error}", False)]
        rows += found
        print(f"# {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print_table(rows)
    return 0 if all(row.held for row in rows) else 1


def print_table(rows: list[Row]) -> None:
    header = Row("figure", "goal", "measured", True)
    widths = [max(len(getattr(r, f)) for r in [header, *rows]) for f in ("figure", "goal", "measured")]
    for row in [header, *rows]:
        held = "held" if row is header else ("yes" if row.held else "NO")
        cells = [getattr(row, f).ljust(w) for f, w in zip(("figure", "goal", "measured"), widths, strict=True)]
        print(" | ".join([*cells, held]))


if __name__ == "__main__":
    sys.exit(main())
