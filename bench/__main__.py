"""``python -m bench [dispatch] [--rounds N] [--events N] [--no-write]``: run the benchmark, print and record it."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import harness, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suite", nargs="?", default="dispatch", choices=["dispatch"])
    parser.add_argument("--rounds", type=int, default=9, help="recorded rounds per configuration (default 9)")
    parser.add_argument("--events", type=int, default=1000, help="events per round and configuration (default 1000)")
    parser.add_argument("--output", type=Path, default=report.RESULTS_PATH, help="the results file to update")
    parser.add_argument("--no-write", action="store_true", help="print the table without updating the results file")
    args = parser.parse_args(argv)
    result = harness.measure(rounds=args.rounds, events=args.events)
    print(report.render(result))
    if not args.no_write:
        report.write(result, args.output)
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
