"""Memory of a CSV import of 10,000,000 rows into MariaDB (docs/performance.md).

`datastore.imports.import_file` reads, checks and stores a file in chunks in one
transaction, so its memory must follow the chunk size, not the file's length. The
import runs in a fresh Python process, and the figure is that process's peak resident
memory (the kernel's high-water mark, VmHWM of /proc/self/status: unlike ru_maxrss it
starts afresh at exec rather than from the parent's), numpy and the database driver
included. Baseline: the same process doing everything but the import (the libraries
loaded, the database connected), i.e. the floor under the figure. The time is reported
as a second result, against the 15 s per 1,000,000 rows of the csv benchmark.

Generating the file (about 1 GB) and importing it takes minutes; `--quick` uses
200,000 rows. The server comes from BEM_BENCH_DATABASE_URL, as for the csv benchmark.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import Benchmark, Result
from bench.bench_csv import IMPORT_SECONDS_PER_MILLION, write_sample_file
from bench.support import add_bench_battery, scratch_database
from datastore import make_engine

FULL_ROWS = 10_000_000
QUICK_ROWS = 200_000
MEMORY_LIMIT_MIB = 512.0

# Run in a child process: its high-water mark then measures this import alone.
_CHILD = """
import json, sys, time
from datastore import make_engine
from datastore.imports import import_file
url, path, battery_id, do_import = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
engine = make_engine(url)
with engine.connect():
    pass
started = time.perf_counter()
if do_import == "1":
    import_file(engine, path, name="bench import 10M", battery_id=battery_id)
seconds = time.perf_counter() - started
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
peak_mib = peak_kib / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))
"""


def run(quick: bool) -> list[Result]:
    rows = QUICK_ROWS if quick else FULL_ROWS
    with scratch_database("import10m") as url, tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.csv"
        write_sample_file(source, rows)
        battery_id = _add_battery(url)
        floor = _child(url, source, battery_id, do_import=False)
        measured = _child(url, source, battery_id, do_import=True)
        size_mib = source.stat().st_size / 2**20
    time_limit = IMPORT_SECONDS_PER_MILLION * rows / 1_000_000
    return [
        Result(
            what=(
                f"CSV import of {rows:,} rows ({size_mib:,.0f} MiB file) into MariaDB: "
                "peak resident memory of the importing process"
            ),
            figure=measured["peak_mib"],
            unit="MiB",
            baseline=floor["peak_mib"],
            baseline_what="the same process without the import (libraries and connection)",
            target=f"bounded: ≤ {MEMORY_LIMIT_MIB:g} MiB whatever the length",
            met=measured["peak_mib"] <= MEMORY_LIMIT_MIB,
        ),
        Result(
            what=f"CSV import of {rows:,} rows into MariaDB: time",
            figure=measured["seconds"],
            unit="s",
            baseline=None,
            baseline_what="",
            target=f"≤ {time_limit:g} s ({IMPORT_SECONDS_PER_MILLION:g} s per 1,000,000)",
            met=measured["seconds"] <= time_limit,
        ),
    ]


BENCHMARK = Benchmark(
    name="import10m",
    description="peak memory of a CSV import of 10,000,000 rows into MariaDB",
    run=run,
)


def _add_battery(url: str) -> int:
    engine = make_engine(url)
    try:
        return add_bench_battery(engine)
    finally:
        engine.dispose()


def _child(url: str, source: Path, battery_id: int, *, do_import: bool) -> dict[str, float]:
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            url,
            str(source),
            str(battery_id),
            "1" if do_import else "0",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(finished.stdout.strip().splitlines()[-1])
    return figures
