"""Run every benchmark, print one table and write it to benchmarks/RESULTS.md.

``make bench``. Figures are measured side by side in one run; compare the ratios, not
the absolute numbers, across machines. Never part of the tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: The benchmark modules, each with ``run() -> list[dict]``, in the order shown.
MODULES = ("webhook", "connect_session", "widget_bytes", "import_cost", "sandbox", "panel_render")
COLUMNS = ("benchmark", "measure", "value", "target", "note")
#: What the modules say about their figures (their ``NOTES``), written under the table.
NOTES: list[str] = []


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> list[tuple[str, str]]:
    return [
        ("Date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} cores"),
        ("Load average at the start (1, 5, 15 min)", " ".join(f"{v:.1f}" for v in os.getloadavg())),
        ("System", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Flask", version("flask")),
        ("Werkzeug", version("werkzeug")),
        ("gunicorn", version("gunicorn")),
        ("flask-stackone", version("flask-stackone")),
    ]


def collect() -> tuple[list[dict[str, str]], list[str]]:
    rows: list[dict[str, str]] = []
    missing = []
    NOTES.clear()
    for name in MODULES:
        if importlib.util.find_spec(f"benchmarks.{name}") is None:
            missing.append(name)
            continue
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        if getattr(module, "NOTES", ""):
            NOTES.append(module.NOTES.strip())
        for row in module.run():
            known = {k: str(row[k]) for k in COLUMNS if k in row}
            extra = [(k, v) for k, v in row.items() if k not in COLUMNS]
            if extra and "value" not in known:  # a module's own columns: first one names it
                known.setdefault("measure", str(extra.pop(0)[1]))
                known["value"] = ", ".join(f"{k}={v}" for k, v in extra)
            known.setdefault("benchmark", name)
            rows.append(known)
        print(f"  {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    return rows, missing


def table(rows: list[dict[str, str]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r.get(c, "") for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    about = "\n".join(f"- {k}: {v}" for k, v in machine())  # before the run: its load average
    rows, missing = collect()
    note = f"\n\nNot measured (module missing): {', '.join(missing)}." if missing else ""
    if NOTES:
        note += "\n\n## Notes\n\n" + "\n\n".join(NOTES)
    report = (
        "# Benchmark results\n\nWritten by `make bench` (benchmarks/run.py). Every figure comes "
        "from the same run on this machine; the ratios are what carries over to others.\n\n"
        f"{about}\n\n{table(rows)}{note}\n"
    )
    (HERE / "RESULTS.md").write_text(report, encoding="utf-8")
    print(table(rows) + note)
    print(f"\nwritten to {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
