"""The ``flask stackone`` command group (each blueprint instance gets its own)."""

from __future__ import annotations

from flask.cli import AppGroup


def init_cli(group: AppGroup, blueprint_name: str) -> None:
    """Add the plugin's commands to a blueprint's ``cli`` group."""
