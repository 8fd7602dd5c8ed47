"""The package's declared dependencies and the lowest versions ``make test`` also runs on."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def version(text: str) -> tuple[int, ...]:
    numbers = [int(part) for part in text.split(".")]
    return tuple(numbers + [0] * (3 - len(numbers)))


def test_the_lowest_run_pins_every_declared_minimum():
    """Raising a minimum in pyproject.toml without moving the lowest run fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimums = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement)
        assert match, f"{requirement!r}: declare a lowest version with >="
        minimums[match.group(1).lower()] = version(match.group(2))
    line = re.search(r"^LOWEST_PINS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert line, "the Makefile has no LOWEST_PINS"
    pins = dict(pin.split("==") for pin in line.group(1).split())
    for name, minimum in minimums.items():
        # The same release series as declared; a later patch only where the lowest Flask
        # needs it (Flask 2.3.0 requires itsdangerous>=2.1.2, blinker>=1.6.2, Werkzeug>=2.3.0).
        assert version(pins[name])[:2] == minimum[:2] and version(pins[name]) >= minimum, name
    assert version(pins["flask"]) == minimums["flask"]
    assert version(pins["werkzeug"]) == minimums["flask"]


def test_the_lowest_run_pins_the_redis_extras_minimum():
    """The Redis store runs on the lowest redis-py its extra allows, in the lowest run."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (requirement,) = extra["optional-dependencies"]["redis"]
    match = re.fullmatch(r"redis\[hiredis\]>=([0-9.]+)", requirement)
    assert match, f"{requirement!r}: declare a lowest version with >="
    line = re.search(r"^LOWEST_PINS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert line, "the Makefile has no LOWEST_PINS"
    pins = dict(pin.split("==") for pin in line.group(1).split())
    assert version(pins["redis"]) == version(match.group(1))
