"""Time every notebook from a fresh kernel, as a learner runs it (the README's "runs in" column).

Usage: python benchmarks/notebook_times.py [notebooks/NN_name.ipynb ...]
Executes copies in memory (the stored notebooks are not touched) and prints one row per notebook.
"""

from __future__ import annotations

import glob
import os
import platform
import sys
import time

import nbformat
from nbclient import NotebookClient

BUDGET_S = 60  # CONTRIBUTING.md, "Notebooks": each notebook under 60 s on a 2-core CPU


def time_notebook(path: str) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(path)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    paths = sys.argv[1:] or sorted(glob.glob("notebooks/[0-9][0-9]_*.ipynb"))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'notebook':<52} {'seconds':>8} {'of budget':>10}")
    total = 0.0
    for path in paths:
        seconds = time_notebook(path)
        total += seconds
        print(f"{os.path.basename(path):<52} {seconds:>8.1f} {seconds / BUDGET_S:>9.0%}")
    print(f"{'all notebooks':<52} {total:>8.1f}")


if __name__ == "__main__":
    main()
