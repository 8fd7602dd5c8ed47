"""Signing in and out with a session cookie, and who the signed-in customer is for StackOne."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import AppGroup
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from flask_stackone import Owner, stackone_bp

from .db import DEMO_ORGANISATIONS, DEMO_PASSWORD, get_db, now_iso

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable[..., Any])


@bp.before_app_request
def load_signed_in_user() -> None:
    """Put the signed-in user (with their organisation) on ``g.user``, or ``None``."""
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        g.user = (
            get_db()
            .execute(
                "SELECT users.id, users.name, users.email, users.organisation_id,"
                " organisations.name AS organisation_name, organisations.owner_id"
                " FROM users JOIN organisations ON organisations.id = users.organisation_id"
                " WHERE users.id = ? AND users.removed_at IS NULL",
                (user_id,),
            )
            .fetchone()
        )


@stackone_bp.owner_loader
def current_owner() -> Owner | None:
    """The customer who links accounts: the signed-in user's organisation, read on the
    server (never from the browser)."""
    user = g.get("user")
    if user is None:
        return None
    return Owner(id=user["owner_id"], name=user["organisation_name"], username=user["email"])


def login_required(view: View) -> View:
    """Send visitors who are not signed in to the sign-in page, then back."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only a path on this site is followed after sign-in: never a full URL or ``//host``,
    nor a backslash or a control character (browsers drop tabs and newlines, turning
    ``/<tab>/host`` into ``//host``; a newline would also break the ``Location`` header)."""
    fallback = url_for("main.overview")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return fallback
    parts = urlsplit(target)
    return fallback if parts.scheme or parts.netloc else target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    next_url = request.values.get("next")
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        user = (
            get_db()
            .execute("SELECT * FROM users WHERE email = ? AND removed_at IS NULL", (email,))
            .fetchone()
        )
        if user is None or not check_password_hash(user["password_hash"], password):
            flash("That email and password do not match an account.", "error")
            return render_template("login.html", **_login_context(email, next_url)), 401
        session.clear()  # a fresh session: nothing from before sign-in carries over
        session["user_id"] = user["id"]
        flash(f"Welcome back, {user['name'].split()[0]}.", "success")
        return redirect(_safe_next(next_url))
    if g.user is not None:
        return redirect(_safe_next(next_url))
    return render_template("login.html", **_login_context("", next_url))


def _login_context(email: str, next_url: str | None) -> dict[str, Any]:
    demo_users = [
        {"email": user_email, "name": user_name, "organisation": organisation}
        for _, organisation, users in DEMO_ORGANISATIONS
        for user_name, user_email in users
    ]
    return {
        "email": email,
        "next_url": next_url or "",
        "demo_users": demo_users,
        "demo_password": DEMO_PASSWORD,
    }


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


members_cli = AppGroup("members", help="The members of the customer organisations.")


@members_cli.command("remove")
@click.argument("email")
def remove_member(email: str) -> None:
    """A member has left: they can no longer sign in, and every onboarding link they sent
    stops working (``STACKONE_ONBOARDING_LINK_CHECK`` refuses it)."""
    db = get_db()
    with db:
        removed = db.execute(
            "UPDATE users SET removed_at = ? WHERE email = ? AND removed_at IS NULL",
            (now_iso(), email.strip()),
        ).rowcount
    if not removed:
        raise click.ClickException(f"no current member with the email {email!r}")
    (links,) = db.execute(
        "SELECT COUNT(*) FROM outbox JOIN users ON users.id = outbox.sender_id"
        " WHERE users.email = ? AND outbox.link_id IS NOT NULL AND outbox.withdrawn_at IS NULL",
        (email.strip(),),
    ).fetchone()
    plural = "" if links == 1 else "s"
    click.echo(f"{email} removed: {links} onboarding link{plural} they sent no longer work.")
