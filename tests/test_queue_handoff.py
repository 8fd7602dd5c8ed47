"""Slow work handed to a real queue: a receiver enqueues an RQ job on a real redis-server
and a real ``rq worker`` process runs it. While no worker runs the job waits in Redis and
runs once one is back; the webhook is acknowledged either way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_stackone import AccountEvent, account_created
from flask_stackone.testing import make_event, post_event

from .conftest import build_app
from .servers import own_redis  # noqa: F401 - fixture

rq = pytest.importorskip("rq")
pytestmark = pytest.mark.slow  # a real worker process

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "stackone"


def done(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def wait_until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.05)


class Worker:
    """``rq worker`` as its own process, started and stopped by the test."""

    def __init__(self, redis_url: str, log: Path) -> None:
        self.redis_url = redis_url
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "rq"), "worker", "--url", self.redis_url,
                   "--worker-ttl", "30", QUEUE]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        """A warm shutdown (SIGTERM: the worker finishes its job, then exits); killed if it
        still runs a while later (its job is done by then: the test waits for that)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(20)
        self.process = None


@pytest.fixture
def worker(own_redis: Any, tmp_path: Path) -> Iterator[Worker]:  # noqa: F811
    started = Worker(own_redis.url, tmp_path / "worker.log")
    yield started
    started.stop()


@pytest.fixture
def host(own_redis: Any, tmp_path: Path) -> Iterator[tuple[Flask, Any, Path]]:  # noqa: F811
    """A host app whose ``account_created`` receiver only enqueues the slow work."""
    from redis import Redis

    redis = Redis.from_url(own_redis.url)
    queue = rq.Queue(QUEUE, connection=redis)
    done_file = tmp_path / "done.txt"
    app = build_app()

    @account_created.connect_via(app, weak=False)
    def hand_off(sender: Flask, event: AccountEvent, **extra: Any) -> None:
        queue.enqueue("tests.rq_jobs.import_employees", event.account_id, str(done_file))

    yield app, queue, done_file
    redis.close()


def webhook(app: Flask, account_id: str) -> int:
    body = make_event("account.created", account_id=account_id)
    return post_event(app.test_client(), body).status_code


def test_a_real_worker_runs_the_job_and_a_job_waits_while_it_is_down(host, worker) -> None:
    app, queue, done_file = host
    worker.start()
    assert webhook(app, "acc_1") == 200
    wait_until(lambda: done(done_file) == ["acc_1"], "the worker running acc_1's job")
    wait_until(lambda: queue.finished_job_registry.count == 1, "the job recorded as finished")

    worker.stop()
    assert webhook(app, "acc_2") == 200  # acknowledged with no worker running
    assert queue.count == 1 and done(done_file) == ["acc_1"]  # waiting in Redis

    worker.start()
    wait_until(lambda: done(done_file) == ["acc_1", "acc_2"], "the job running once back")
    wait_until(lambda: queue.finished_job_registry.count == 2, "both jobs recorded as finished")
    assert queue.count == 0


def test_the_webhook_is_answered_before_the_job_runs(host) -> None:
    """No worker at all: the receiver only enqueues, so the webhook is acknowledged and the
    job is left for later, never run inside the request."""
    app, queue, done_file = host
    assert webhook(app, "acc_3") == 200
    assert queue.count == 1
    [job] = queue.jobs
    assert job.func_name == "tests.rq_jobs.import_employees" and job.args[0] == "acc_3"
    assert done(done_file) == []
