"""``flask stackone sandbox ...``: commands for the offline StackOne emulator."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

sandbox_cli = AppGroup("sandbox", help="The offline StackOne sandbox (STACKONE_SANDBOX).")


@sandbox_cli.command("reset")
def reset_command() -> None:
    """Forget every sandbox session, account and webhook delivery."""
    from .state import get_sandbox, reset

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if get_sandbox(app) is None:
        raise click.ClickException("the sandbox is not on: set STACKONE_SANDBOX = True")
    reset(app)
    click.echo("Sandbox reset: sessions, accounts and webhook deliveries are gone.")
