"""Wall time of the full default probe suite (target: under 3 minutes on 2 cores).

    python benchmarks/probe_suite_time.py runs/mlp-76k runs/wavenet-76k

Runs ``interp analyze probes`` with its defaults (4,000 validation contexts, every group and
aligned n-gram target, control tasks, online codes, the initial model, LEACE erasures) on the
given runs, into a temporary folder, and prints the time beside the machine's facts.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_facts  # noqa: E402

from analyses.probes import run_analysis  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print(machine_facts())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_analysis(sys.argv[1:], tmp, progress=False)
        seconds = time.perf_counter() - t0
    print(f"full probe suite on {len(sys.argv) - 1} runs: {seconds:.0f} s (target < 180 s)")


if __name__ == "__main__":
    main()
