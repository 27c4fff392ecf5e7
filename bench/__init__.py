"""Benchmarks for the performance targets of docs/performance.md.

Each module `bench/bench_*.py` defines `BENCHMARK = Benchmark(...)`. Its `run(quick)`
returns results, each with the figure, a baseline measured in the same run, and the
target. Run them with `python -m bench` or `bem bench` (`--list`, `--quick`, names).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    what: str
    figure: float
    unit: str
    baseline: float | None
    baseline_what: str
    target: str
    met: bool | None

    def line(self) -> str:
        verdict = {True: "MET", False: "MISSED", None: "-"}[self.met]
        baseline = (
            f"{self.baseline:,.3f} {self.unit} ({self.baseline_what})"
            if self.baseline is not None
            else "-"
        )
        return (
            f"  {self.what}: {self.figure:,.3f} {self.unit}\n"
            f"    baseline: {baseline}\n"
            f"    target:   {self.target}  [{verdict}]"
        )


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[bool], list[Result]]


def discover() -> dict[str, Benchmark]:
    found = {}
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("bench_"):
            benchmark = importlib.import_module(f"bench.{module.name}").BENCHMARK
            found[benchmark.name] = benchmark
    return dict(sorted(found.items()))


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    benchmarks = discover()
    if args.list:
        for name, benchmark in benchmarks.items():
            print(f"{name}: {benchmark.description}")
        return 0
    unknown = [name for name in args.names if name not in benchmarks]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; known: {', '.join(benchmarks)}", file=sys.stderr)
        return 1
    print(f"machine: {machine()}")
    missed = 0
    for name in args.names or benchmarks:
        benchmark = benchmarks[name]
        print(f"\n[{name}] {benchmark.description}", flush=True)
        for result in benchmark.run(args.quick):
            print(result.line(), flush=True)
            missed += result.met is False
    return 0
