"""What flask-stackone adds to a Flask app at start-up: import time as a ratio to
``import flask`` and resident memory, each the median of fresh interpreters in one run."""

from __future__ import annotations

import json
import subprocess
import sys
from statistics import median

RUNS = 9
#: Every probe imports Flask first (timed: the baseline), then ``STATEMENT`` (timed).
PROBE = r"""
import json, time
def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
started = time.perf_counter()
import flask
flask_ms = (time.perf_counter() - started) * 1000
before = rss_kib()
started = time.perf_counter()
STATEMENT
ms = (time.perf_counter() - started) * 1000
print(json.dumps({"flask_ms": flask_ms, "ms": ms, "kib": rss_kib() - before}))
"""
STATEMENTS = {
    "import flask_stackone": "import flask_stackone",
    "from flask_stackone import stackone_bp (+ register)": (
        "from flask_stackone import stackone_bp\n"
        "app = flask.Flask('bare')\n"
        "app.register_blueprint(stackone_bp)"
    ),
}


def probe(statement: str) -> dict[str, float]:
    """Medians over ``RUNS`` fresh interpreters."""
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE.replace("STATEMENT", statement)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: median(s[key] for s in samples) for key in ("flask_ms", "ms", "kib")}


def run() -> list[dict[str, str]]:
    rows = []
    for label, statement in STATEMENTS.items():
        found = probe(statement)
        ratio = found["ms"] / found["flask_ms"]
        lazy = label == "import flask_stackone"
        rows += [
            {"benchmark": "import cost", "measure": f"{label}: time / import flask",
             "value": f"{ratio:.2f} ({found['ms']:.1f} ms / {found['flask_ms']:.1f} ms)",
             "target": "<= 0.25" if lazy else "",
             "note": ("ok" if ratio <= 0.25 else "OVER TARGET") if lazy else
                     "loads the blueprint, the client and requests"},
            {"benchmark": "import cost", "measure": f"{label}: RSS added",
             "value": f"{found['kib'] / 1024:.1f} MiB"},
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
