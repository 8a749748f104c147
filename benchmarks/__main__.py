"""``python -m benchmarks [name ...] [-- module args]``: run every benchmark module's ``main``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    split = argv.index("--") if "--" in argv else len(argv)
    names, rest = argv[:split], argv[split + 1 :]
    available = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    unknown = sorted(set(names) - set(available))
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; available: {available}")
    for name in names or available:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.{name}").main(rest)
        print(f"--- benchmarks.{name}: {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
