"""``python -m flask_stackone hub install``: the Hub installer without a Flask app."""

from __future__ import annotations

import click

from .hub_assets import force_option, install_and_report, version_option


@click.group()
def cli() -> None:
    """flask-stackone tools that need no Flask app."""


@cli.group()
def hub() -> None:
    """The pinned StackOne Hub script."""


@hub.command("install")
@version_option
@force_option
@click.option(
    "--dir", "root", default=None, help="Cache folder (default: $STACKONE_HUB_DIR or ~/.cache)."
)
def install_command(version: str, force: bool, root: str | None) -> None:
    """Fetch the pinned Hub script with npm, verify it and cache it for every app."""
    install_and_report(version, root, force)


if __name__ == "__main__":
    cli(prog_name="python -m flask_stackone")
