"""``linqbot emulator`` / ``python -m linqbot.emulator``: run the emulator as a standalone server."""

import argparse
import asyncio
import contextlib
import os
import signal

from linqbot.emulator.config import DEFAULT_API_KEY, DEFAULT_LINE, EmulatorConfig, LineSpec
from linqbot.emulator.faults import FaultConfig, FaultRule
from linqbot.emulator.server import Emulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linqbot emulator", description="Run a local Linq Partner API v3 emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LINQ_API_KEY", DEFAULT_API_KEY),
        help="bearer key clients must send (env LINQ_API_KEY, default %(default)s)",
    )
    parser.add_argument(
        "--line",
        action="append",
        dest="lines",
        metavar="E164[:RCS]",
        help=f"a line to provision; repeatable (default {DEFAULT_LINE})",
    )
    parser.add_argument("--db", help="persist state to this SQLite file")
    parser.add_argument("--read-delay", type=float, default=0.1, help="seconds until auto-read; 0 disables")
    parser.add_argument("--webhook-attempts", type=int, default=10)
    parser.add_argument("--webhook-backoff", type=float, default=0.2, help="first retry delay in seconds")
    parser.add_argument(
        "--webhook-concurrency",
        type=_at_least_one,
        default=32,
        help="deliveries in flight per subscription across chats; 1 = strictly in emission order",
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--fault-seed", type=int)
    faults.add_argument("--fault-error-rate", type=float, default=0.0, help="fraction of matching requests -> 5xx")
    faults.add_argument("--fault-error-status", type=int, default=503)
    faults.add_argument("--fault-latency-ms", type=int, default=0)
    faults.add_argument("--fault-method", default="*", help="method pattern the error/latency rule applies to")
    faults.add_argument("--fault-path", default="/api/partner/v3/*", help="path pattern (fnmatch)")
    faults.add_argument("--fault-rate-limit-storm", type=int, default=0, help="the next N sends answer 429")
    faults.add_argument("--fault-webhook-duplicate-rate", type=float, default=0.0)
    faults.add_argument("--fault-webhook-out-of-order-rate", type=float, default=0.0)
    faults.add_argument("--fault-webhook-delay-ms", type=int, default=0)
    return parser


def _at_least_one(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _line(spec: str) -> LineSpec:
    number, _, kind = spec.partition(":")
    return LineSpec(number, "RCS" if kind.upper() == "RCS" else "iMessage")


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    rules = []
    if args.fault_error_rate or args.fault_latency_ms:
        rules.append(
            FaultRule(
                method=args.fault_method,
                path=args.fault_path,
                error_rate=args.fault_error_rate,
                error_status=args.fault_error_status,
                latency_ms=args.fault_latency_ms,
            )
        )
    faults = FaultConfig(
        seed=args.fault_seed,
        rules=rules,
        rate_limit_storm=args.fault_rate_limit_storm,
        webhook_duplicate_rate=args.fault_webhook_duplicate_rate,
        webhook_out_of_order_rate=args.fault_webhook_out_of_order_rate,
        webhook_delay_ms=args.fault_webhook_delay_ms,
    )
    return EmulatorConfig(
        api_key=args.api_key,
        lines=[_line(s) for s in args.lines] if args.lines else [LineSpec(DEFAULT_LINE)],
        db_path=args.db,
        read_delay=args.read_delay,
        webhook_attempts=args.webhook_attempts,
        webhook_backoff=args.webhook_backoff,
        webhook_concurrency=args.webhook_concurrency,
        faults=faults,
    )


async def serve(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM. The handlers are the emulator's own: started in the background by a script
    (whose shell ignores SIGINT for it) or by a supervisor (SIGTERM), it still stops cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' default loop
            loop.add_signal_handler(signum, stop.set)
    emulator = Emulator(config)
    url = await emulator.start(host, port)
    print(f"Linq emulator on {url}  (SDK base_url={emulator.base_url}, api key {config.api_key!r})", flush=True)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config_from_args(args), args.host, args.port))
    return 0
