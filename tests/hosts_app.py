"""The app each "host" of the many-hosts test serves under gunicorn. Its receiver writes one
line per run (delivery key and host name) to a file shared by the hosts, opened with
``O_APPEND`` for each run, so the runs are counted outside the app processes.

Read from the environment: ``HOSTS_NAME``, ``HOSTS_INSTANCE`` (the instance folder),
``HOSTS_RUNS_FILE``, ``HOSTS_FREEZE_FILE`` (while this file exists, each receiver notes its
delivery in ``<file>.log`` and then hangs before doing anything: the host is stuck inside
its receivers, holding their claims) and every ``STACKONE_*`` setting.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask

from flask_stackone import AccountEvent, Owner, account_created, make_blueprint

from .conftest import API_KEY, WEBHOOK_SECRET


def append(path: str, line: str) -> None:
    """One ``write`` of one line at the end of ``path``: never interleaved with another's."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def create_app() -> Flask:
    name = os.environ["HOSTS_NAME"]
    runs = os.environ["HOSTS_RUNS_FILE"]
    freeze = os.environ.get("HOSTS_FREEZE_FILE", "")
    app = Flask(__name__, instance_path=os.environ["HOSTS_INSTANCE"])
    app.config.update(SECRET_KEY="hosts-secret-key", STACKONE_API_KEY=API_KEY,
                      STACKONE_WEBHOOK_SECRET=WEBHOOK_SECRET)  # fmt: skip
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("STACKONE_")})
    blueprint = make_blueprint()
    blueprint.owner_loader(lambda: Owner("org_1", "Acme Ltd", "ada@acme.test"))
    app.register_blueprint(blueprint)

    @account_created.connect_via(app, weak=False)
    def record_run(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        if freeze and os.path.exists(freeze):
            append(freeze + ".log", f"{event.delivery_key} {name}\n")
            while True:  # stuck until the host is killed
                time.sleep(1)
        append(runs, f"{event.delivery_key} {name}\n")

    return app
