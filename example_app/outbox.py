"""Onboarding invitations: an email with a signed link, written to a local outbox
(the demo sends no mail) that the Outbox page shows."""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from flask import g

import flask_stackone
from flask_stackone import ConfigurationError, OnboardingGrant

from .auth import current_owner
from .db import get_db, now_iso

#: Matched against the whole value (``fullmatch``).
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{2,}")
MAX_DAYS = 30
#: Connectors offered by name in the invitation form (any other is picked in the Hub).
PROVIDERS = (("bamboohr", "BambooHR"), ("hibob", "HiBob"), ("personio", "Personio"))


@dataclass
class InvitationForm:
    """The invitation form, checked. ``errors`` lists what to fix."""

    recipient: str = ""
    provider: str = ""
    days: int = 5
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_request(cls, form: Mapping[str, str]) -> InvitationForm:
        recipient = form.get("recipient", "").strip()
        provider = form.get("provider", "").strip()
        days_text = form.get("days", "5").strip()
        errors = []
        if not EMAIL.fullmatch(recipient):
            errors.append("Enter the colleague's email address, like name@company.com.")
        if provider and provider not in dict(PROVIDERS):
            errors.append("Choose a system from the list.")
        try:
            days = int(days_text)
        except ValueError:
            days = 5
            errors.append(f"The link must be valid for 1 to {MAX_DAYS} days.")
        else:
            if not 1 <= days <= MAX_DAYS:
                errors.append(f"The link must be valid for 1 to {MAX_DAYS} days.")
        return cls(recipient=recipient, provider=provider, days=days, errors=errors)


def send_invitation(form: InvitationForm) -> None:
    """Write the invitation for ``form.recipient`` to the outbox.

    The link opens a page of this app that creates a StackOne session only when the
    colleague clicks Connect, so it can wait in an inbox for days.
    """
    owner = current_owner()
    if owner is None:
        raise ConfigurationError("an invitation needs a signed-in user")
    link_id = secrets.token_urlsafe(12)  # to withdraw this one link later
    link = flask_stackone.onboarding_link(
        owner, provider=form.provider or None, max_age=timedelta(days=form.days), link_id=link_id
    )
    what = dict(PROVIDERS).get(form.provider, "your HR system")
    sender = g.user["name"]
    body = (
        f"Hello,\n\n{sender} invited you to connect {what} to the Acme People workspace of "
        f"{owner.name}, so your people data stays in sync.\n\n"
        f"Open this link and press Connect (it works for {form.days} "
        f"day{'s' if form.days != 1 else ''}):\n{link}\n\n"
        "You do not need an Acme People account. If you were not expecting this, ignore it.\n"
    )
    db = get_db()
    with db:
        db.execute(
            "INSERT INTO outbox (organisation_id, sender_id, recipient, subject, body, link,"
            " link_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                g.user["organisation_id"],
                g.user["id"],
                form.recipient,
                f"Connect {what} to Acme People",
                body,
                link,
                link_id,
                now_iso(),
            ),
        )


def invitation_still_valid(grant: OnboardingGrant) -> bool:
    """``STACKONE_ONBOARDING_LINK_CHECK``: consulted each time an onboarding link is opened
    or used. A link sent from the outbox stops working once it is withdrawn or its sender
    has left the organisation. A link made elsewhere (``flask stackone auth-link``) is not
    in the outbox and works until it expires."""
    if grant.link_id is None:
        return True
    row = (
        get_db()
        .execute(
            "SELECT outbox.withdrawn_at, users.removed_at, organisations.owner_id FROM outbox"
            " JOIN organisations ON organisations.id = outbox.organisation_id"
            " LEFT JOIN users ON users.id = outbox.sender_id"
            " WHERE outbox.link_id = ?",
            (grant.link_id,),
        )
        .fetchone()
    )
    if row is None:
        return True
    return (
        row["withdrawn_at"] is None
        and row["removed_at"] is None
        and row["owner_id"] == grant.owner.id
    )


def withdraw(db: sqlite3.Connection, organisation_id: int, message_id: int) -> sqlite3.Row | None:
    """Withdraw one of the organisation's invitations: its link stops working. ``None`` when
    the organisation has no such invitation."""
    with db:
        db.execute(
            "UPDATE outbox SET withdrawn_at = ? WHERE id = ? AND organisation_id = ?"
            " AND withdrawn_at IS NULL",
            (now_iso(), message_id, organisation_id),
        )
    return db.execute(
        "SELECT * FROM outbox WHERE id = ? AND organisation_id = ?", (message_id, organisation_id)
    ).fetchone()


def list_messages(db: sqlite3.Connection, user: sqlite3.Row) -> list[sqlite3.Row]:
    """The organisation's sent invitations, newest first."""
    return db.execute(
        "SELECT outbox.*, users.name AS sender_name, users.removed_at AS sender_removed_at"
        " FROM outbox"
        " LEFT JOIN users ON users.id = outbox.sender_id"
        " WHERE outbox.organisation_id = ? ORDER BY outbox.id DESC",
        (user["organisation_id"],),
    ).fetchall()


def count(db: sqlite3.Connection, organisation_id: int) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM outbox WHERE organisation_id = ?", (organisation_id,)
    ).fetchone()[0]
