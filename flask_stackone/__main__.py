"""``python -m flask_stackone``: the Hub installer and its status, without a Flask app."""

from __future__ import annotations

import click

from .__about__ import __version__
from .widget.commands import force_option, install_and_report, report_status, version_option

dir_option = click.option(
    "--dir", "root", default=None, help="Cache folder (default: $STACKONE_HUB_DIR or ~/.cache)."
)


@click.group()
@click.version_option(__version__, "--version", prog_name="flask-stackone")
def cli() -> None:
    """flask-stackone tools that need no Flask app."""


@cli.group()
def hub() -> None:
    """The pinned StackOne Hub script."""


@hub.command("install")
@version_option
@force_option
@dir_option
def install_command(version: str, force: bool, root: str | None) -> None:
    """Fetch the pinned Hub script with npm, verify it and cache it for every app."""
    install_and_report(version, root, force)


@hub.command("status")
@dir_option
@click.option("--script-url", default=None, help="A CDN URL of the pinned script, if used.")
def status_command(root: str | None, script_url: str | None) -> None:
    """Say whether the pinned Hub script is installed and verified; exit 1 when not."""
    report_status(root, script_url)


if __name__ == "__main__":
    cli(prog_name="python -m flask_stackone")
