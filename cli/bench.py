"""`bem bench`: run the performance benchmarks in bench/."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run performance benchmarks",
        description="Run benchmarks; each prints its figure, a baseline measured in the same run, and its target.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true", help="smaller data sets, for a smoke test")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench import main as bench_main

    argv = list(args.names)
    if args.list:
        argv.append("--list")
    if args.quick:
        argv.append("--quick")
    return bench_main(argv)
