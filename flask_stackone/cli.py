"""The ``flask stackone`` command group (each blueprint instance gets its own).

:data:`stackone` is also Flask's ``flask.commands`` entry point, so ``flask stackone`` exists
in every app where the package is installed, before (or without) ``register_blueprint``:
``hub install`` and ``check`` need no blueprint; the other commands say which is missing.

Expected failures (StackOne errors, missing settings, bad options) end with a one-line
message and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .config import read_settings
from .core import errors
from .core.hub_script import HUB_VERSION, PACKAGE
from .core.models import Account, Owner, format_datetime
from .core.webhooks import SIGNATURE_HEADER, build_event_body, compute_signature
from .error_answers import answer_for
from .services.linking import check_options, create_session, is_account_id
from .services.onboarding import create_auth_link, external_url, onboarding_link
from .services.readiness import configuration_problems
from .services.settings import Settings
from .services.state import StackOneState, get_state
from .widget.commands import force_option, install_and_report, report_status, version_option

F = TypeVar("F", bound=Callable[..., Any])


class BlueprintCommands(AppGroup):
    """The ``flask <name>`` group of one StackOne blueprint (``flask stackone`` for
    ``stackone_bp``): the module's commands, acting on that blueprint's settings and client.

    :param blueprint: the blueprint's name.
    """

    def __init__(self, blueprint: str) -> None:
        super().__init__(help="StackOne account linking: sessions, accounts, webhooks, sandbox.")
        self.blueprint = blueprint
        for command in (check, session, auth_link, accounts, trigger, hub, sandbox):
            self.add_command(command)


def _state() -> StackOneState:
    """The state of the blueprint whose group runs the command; ``stackone`` when the
    commands were registered without their group (``cli_group=None``).

    :raises NotRegisteredError: that blueprint is not registered on the app.
    """
    context: click.Context | None = click.get_current_context()
    while context is not None:
        if isinstance(context.command, BlueprintCommands):
            return get_state(blueprint=context.command.blueprint)
        context = context.parent
    return get_state()


def _settings() -> Settings:
    """The settings of the command's blueprint, or, when it is not registered, the ones
    ``app.config`` holds (for the commands that need no blueprint).

    :raises ConfigurationError: a setting's value is invalid.
    """
    try:
        return _state().settings
    except errors.NotRegisteredError:
        return read_settings(current_app.config)


class _ReportedByTheCommand(logging.Filter):
    """Holds back the client's warning about a failed StackOne call: the command reports
    that failure itself, as its one ``Error:`` line. Retries (INFO) and errors still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.WARNING


def _friendly(func: F) -> F:
    """Turn flask-stackone's errors into ``click`` errors (exit code 1) with the error
    table's text for them."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        client_log = logging.getLogger("flask_stackone.client")
        quiet = _ReportedByTheCommand()
        client_log.addFilter(quiet)
        try:
            return func(*args, **kwargs)
        except errors.FlaskStackOneError as exc:
            answer = answer_for(exc)
            if answer is None:
                raise
            raise click.ClickException(answer.report) from None
        finally:
            client_log.removeFilter(quiet)

    return wrapper  # type: ignore[return-value]


def _local_root(state: StackOneState) -> str | None:
    """The app's root in sandbox mode when nothing else says where it runs.

    A sandbox app is served on this machine by ``flask run``, so it is where ``flask run``
    listens: ``FLASK_RUN_HOST`` and ``FLASK_RUN_PORT`` (the variables ``flask run`` reads
    too), by default ``http://127.0.0.1:5000``. ``None`` outside sandbox mode, or when
    ``STACKONE_PUBLIC_URL`` or ``SERVER_NAME`` is set (then that names the app)."""
    if (
        state.sandbox_path is None
        or state.settings.public_url
        or current_app.config.get("SERVER_NAME")
    ):
        return None
    from .sandbox_mount import flask_run_root

    return flask_run_root().rstrip("/")


def _owner(owner_id: str, owner_name: str, username: str | None) -> Owner:
    try:
        return Owner(owner_id, owner_name, username)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _account_id(account_id: str) -> str:
    """``account_id`` when it has the form of a StackOne id, else a one-line error."""
    if not is_account_id(account_id):
        raise click.ClickException(f"not a StackOne account id: {account_id!r}")
    return account_id


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    left = (moment - datetime.now(timezone.utc)).total_seconds()
    if left >= 36 * 3600:
        span = f"{round(left / 86400)} days"
    elif left >= 90 * 60:
        span = f"{round(left / 3600)} hours"
    else:
        span = f"{round(max(0, left) / 60)} minutes"
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} UTC (in {span})"


def _owner_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--owner-id", required=True, help="Your id of the customer (organisation)."
            ),
            click.option(
                "--owner-name", required=True, help="The customer's name, shown by StackOne."
            ),
            click.option("--username", help="Who links the account, e.g. an email address."),
            click.option("--provider", help="Open this connector directly, e.g. bamboohr."),
            click.option(
                "--category",
                "categories",
                multiple=True,
                help="Offer connectors of this category only (repeatable), e.g. hris.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.command("check")
@with_appcontext
def check() -> None:
    """Print every configuration problem; exit with 1 when there is one (deploy pipelines)."""
    try:
        state = _state()
    except errors.NotRegisteredError as exc:
        problems = [str(exc)]
    else:
        problems = configuration_problems(state)
    if not problems:
        click.echo(f"flask-stackone ({state.name}) is configured.")
        return
    click.echo(f"flask-stackone cannot work ({len(problems)} problem(s)):")
    for problem in problems:
        click.echo(f"- {problem}")
    click.get_current_context().exit(1)


@click.command("session")
@with_appcontext
@_owner_options
@_friendly
def session(
    owner_id: str,
    owner_name: str,
    username: str | None,
    provider: str | None,
    categories: Sequence[str],
) -> None:
    """Create a Connect Session; print its Hub token and auth link."""
    state = _state()
    owner = _owner(owner_id, owner_name, username)
    options = check_options(
        state.settings, {"provider": provider, "categories": list(categories) or None}
    )
    created = create_session(state, owner, state.settings.session_expires_in, options)
    click.echo(f"session:   {created.id}")
    click.echo(f"token:     {created.token}")
    click.echo(f"auth link: {created.auth_link_url or '(none in StackOne answer)'}")
    click.echo(f"expires:   {_when(created.expires_at)}")


@click.command("auth-link")
@with_appcontext
@_owner_options
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    help="How long the link works (default: the STACKONE_AUTH_LINK_EXPIRES_IN or "
    "STACKONE_ONBOARDING_MAX_AGE setting, 5 days).",
)
@click.option(
    "--onboarding",
    is_flag=True,
    help="Print a link to this app (signed, no StackOne token) instead of StackOne's.",
)
@click.option(
    "--base-url",
    help="This app's public root for --onboarding, e.g. https://app.example.com "
    "(default: STACKONE_PUBLIC_URL, else SERVER_NAME; in sandbox mode where `flask run` "
    "listens, http://127.0.0.1:5000 unless FLASK_RUN_HOST / FLASK_RUN_PORT say otherwise).",
)
@_friendly
def auth_link(
    owner_id: str,
    owner_name: str,
    username: str | None,
    provider: str | None,
    categories: Sequence[str],
    days: float | None,
    onboarding: bool,
    base_url: str | None,
) -> None:
    """Print a link to email to a customer.

    The customer opens it to connect an account (StackOne's auth link, or with
    --onboarding a signed link to this app).
    """
    state = _state()
    owner = _owner(owner_id, owner_name, username)
    seconds = round(days * 86400) if days is not None else None
    if not onboarding:
        if base_url:
            raise click.UsageError("--base-url only applies with --onboarding")
        link = create_auth_link(owner, provider, categories or None, seconds, blueprint=state.name)
        click.echo(f"auth link: {link.url}")
        click.echo(f"expires:   {_when(link.expires_at)}")
        return
    if seconds is None:  # 0, from a tiny --days, is refused by onboarding_link
        seconds = state.settings.onboarding_max_age
    invitation = onboarding_link(
        owner,
        provider,
        seconds,
        categories=categories or None,
        base_url=base_url or _local_root(state),
        blueprint=state.name,
    )
    click.echo(f"onboarding link: {invitation.url}")
    click.echo(f"expires:         {_when(invitation.expires_at)}")


def _account_dict(account: Account) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return format_datetime(moment, "auto") if moment else None

    return {
        **account.summary(),
        "provider_name": account.provider_name,
        "origin_owner_id": account.origin_owner_id,
        "origin_owner_name": account.origin_owner_name,
        "origin_username": account.origin_username,
        "label": account.label,
        "type": account.type,
        "created_at": iso(account.created_at),
        "updated_at": iso(account.updated_at),
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@click.group("accounts")
def accounts() -> None:
    """List, show and delete linked accounts."""


@accounts.command("list")
@with_appcontext
@click.option("--owner-id", help="Only this customer's accounts.")
@click.option("--provider", "providers", multiple=True, help="Only this connector (repeatable).")
@click.option("--status", "statuses", multiple=True, help="Only this status (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_friendly
def list_accounts(
    owner_id: str | None, providers: Sequence[str], statuses: Sequence[str], as_json: bool
) -> None:
    """List linked accounts (every page)."""
    found = _state().client.list_accounts(
        owner_id=owner_id, providers=providers or None, status=statuses or None
    )
    if as_json:
        click.echo(json.dumps([_account_dict(a) for a in found], indent=2))
        return
    if not found:
        click.echo("No accounts.")
        return
    rows = [["ID", "PROVIDER", "STATUS", "OWNER ID", "OWNER NAME", "CREATED"]]
    rows += [
        [
            a.id,
            a.provider or "-",
            a.status or "-",
            a.origin_owner_id or "-",
            a.origin_owner_name or "-",
            a.created_at.strftime("%Y-%m-%d %H:%M") if a.created_at else "-",
        ]
        for a in found
    ]
    click.echo(_table(rows))


@accounts.command("show")
@with_appcontext
@click.argument("account_id")
@_friendly
def show(account_id: str) -> None:
    """Show an account and why it is not usable. Exits with 1 when it is not active."""
    account = _state().client.get_account(_account_id(account_id))
    for key, value in _account_dict(account).items():
        if key != "status_reasons":
            click.echo(f"{key + ':':<19}{value if value is not None else '-'}")
    if account.status_reasons:
        click.echo("status_reasons:")
    for reason in account.status_reasons:
        click.echo(f"  - {reason.code or '?'}: {reason.description or ''}".rstrip())
    if not account.is_active:
        click.echo(f"account {account.id} is not active (status: {account.status})", err=True)
        click.get_current_context().exit(1)


@accounts.command("delete")
@with_appcontext
@click.argument("account_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly
def delete(account_id: str, yes: bool) -> None:
    """Delete an account at StackOne (its connection stops working)."""
    _account_id(account_id)
    if not yes:
        click.confirm(f"Delete StackOne account {account_id}?", abort=True)
    account = _state().client.delete_account(account_id)
    click.echo(
        f"Deleted account {account.id} ({account.provider or '?'}, "
        f"owner {account.origin_owner_id or '?'})."
    )


@click.command("trigger")
@with_appcontext
@click.argument("event")
@click.option("--account-id", required=True, help="The account_id the event is about.")
@click.option("--provider", default="bamboohr", show_default=True, help="The connector key.")
@click.option("--owner-id", help="origin_owner_id in the event.")
@click.option("--owner-name", help="origin_owner_name in the event.")
@click.option("--url", help="Where to POST (default: this app's webhook route).")
@click.option(
    "--base-url",
    help="This app's root when --url is not given, e.g. http://127.0.0.1:5000 "
    "(default: STACKONE_PUBLIC_URL, else SERVER_NAME; in sandbox mode where `flask run` "
    "listens, http://127.0.0.1:5000 unless FLASK_RUN_HOST / FLASK_RUN_PORT say otherwise).",
)
@click.option("--secret", help="Signing secret (default: the first STACKONE_WEBHOOK_SECRET).")
@_friendly
def trigger(
    event: str,
    account_id: str,
    provider: str,
    owner_id: str | None,
    owner_name: str | None,
    url: str | None,
    base_url: str | None,
    secret: str | None,
) -> None:
    """Send a signed sample webhook to test your handlers.

    EVENT is e.g. account.created, account.updated or account.deleted.
    """
    state = _state()
    if secret is None:
        if not state.settings.webhook_secret:
            raise click.ClickException(
                f"{state.settings.name('webhook_secret')} is not set: pass --secret"
            )
        secret = state.settings.webhook_secret[0]
    fields = {"origin_owner_id": owner_id, "origin_owner_name": owner_name}
    body = build_event_body(
        event,
        account_id=account_id,
        provider=provider,
        project_id="test-project",
        **{k: v for k, v in fields.items() if v is not None},
    )
    target = url or external_url(state, "webhook", base_url or _local_root(state))
    import requests

    try:
        answer = requests.post(
            target,
            data=body,
            headers={
                SIGNATURE_HEADER: compute_signature(body, secret),
                "Content-Type": "application/json",
            },
            timeout=state.settings.timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        hint = "" if url or base_url else " (or pass --base-url / --url)"
        raise click.ClickException(
            f"could not reach {target} ({type(exc).__name__}): is the app running?{hint}"
        ) from None
    click.echo(f"{event} -> {target}")
    click.echo(f"{answer.status_code} {answer.reason}")
    if answer.text:
        click.echo(answer.text[:500].rstrip())
    if not 200 <= answer.status_code < 300:
        click.get_current_context().exit(1)


@click.group("hub", help=f"The pinned StackOne Hub script ({PACKAGE} {HUB_VERSION}).")
def hub() -> None:
    pass


@hub.command("install")
@with_appcontext
@version_option
@force_option
@_friendly
def install_command(version: str, force: bool) -> None:
    """Fetch the pinned Hub script with npm, verify it and cache it for every app."""
    install_and_report(version, _settings().hub_dir, force)


@hub.command("status")
@with_appcontext
@_friendly
def status_command() -> None:
    """Say where the widget loads the Hub script from; exit 1 when it has no source."""
    settings = _settings()
    report_status(settings.hub_dir, settings.hub_script_url)


@click.group("sandbox")
def sandbox() -> None:
    """The offline StackOne sandbox (STACKONE_SANDBOX)."""


@sandbox.command("reset")
@with_appcontext
def reset_command() -> None:
    """Forget every sandbox session, account and webhook delivery."""
    from .sandbox import get_sandbox, reset

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if get_sandbox(app) is None:
        raise click.ClickException("the sandbox is not on: set STACKONE_SANDBOX = True")
    click.echo("STACKONE SANDBOX IS ON: the offline emulator, for development and tests only.")
    reset(app)
    click.echo("Sandbox reset: sessions, accounts and webhook deliveries are gone.")


#: ``flask stackone``: Flask's ``flask.commands`` entry point (pyproject.toml), so the
#: group is there in every app, and the group ``stackone_bp`` registers.
stackone = BlueprintCommands("stackone")
