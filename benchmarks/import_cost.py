"""What ``import flask_stackone`` adds to a bare Flask app: import time and resident memory,
each measured in fresh interpreters (median of several)."""

from __future__ import annotations

import json
import subprocess
import sys
from statistics import median

RUNS = 7
PROBE = r"""
import json, time
def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
from flask import Flask
app = Flask("bare")
before = rss_kib()
started = time.perf_counter()
import flask_stackone
elapsed = time.perf_counter() - started
app.register_blueprint(flask_stackone.make_blueprint())
print(json.dumps({"ms": elapsed * 1000, "kib": rss_kib() - before}))
"""


def run() -> list[dict[str, str]]:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             check=True)  # fmt: skip
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return [
        {"benchmark": "import cost", "measure": "import flask_stackone (after flask)",
         "value": f"{median(s['ms'] for s in samples):.1f} ms"},
        {"benchmark": "import cost", "measure": "RSS added (import + register blueprint)",
         "value": f"{median(s['kib'] for s in samples) / 1024:.1f} MiB"},
    ]  # fmt: skip
