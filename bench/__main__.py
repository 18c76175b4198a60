"""``python -m bench [all|dispatch|ingest|end_to_end|memory|scheduler|cost_curve] [--quick] [--no-write]``: run the
benchmarks (all by default), print and record them in bench/RESULTS.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import harness, report, suites


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suite", nargs="?", default="all", choices=["all", "dispatch", *suites.SUITES])
    parser.add_argument("--quick", action="store_true", help="small sizes for b-f (minutes, not tens of minutes)")
    parser.add_argument("--rounds", type=int, default=9, help="recorded rounds per configuration (default 9)")
    parser.add_argument("--events", type=int, default=1000, help="events per round and configuration (default 1000)")
    parser.add_argument("--output", type=Path, default=report.RESULTS_PATH, help="the results file to update")
    parser.add_argument("--no-write", action="store_true", help="print the table without updating the results file")
    args = parser.parse_args(argv)
    if args.suite in ("all", "dispatch"):
        result = harness.measure(rounds=args.rounds, events=args.events)
        print(report.render(result))
        if not args.no_write:
            report.write(result, args.output)
    for name in suites.SUITES:
        if args.suite in ("all", name):
            print(suites.run(name, args.quick, None if args.no_write else args.output))
    if not args.no_write:
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
