"""Template helpers: dates, status badges, and what every page needs to know."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Flask, request

from flask_stackone import get_state

#: Badge colour of each StackOne status. ``status`` is an open set: unknown ones are grey.
STATUS_TONES = {
    "active": "good",
    "inactive": "warn",
    "suspended": "warn",
    "expired": "bad",
    "error": "bad",
    "archived": "muted",
    "deleted": "muted",
}


def when(value: str | None) -> str:
    """``2025-11-24T06:54:00.000000+00:00`` -> ``24 Nov 2025, 06:54 UTC``."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def status_tone(status: str | None) -> str:
    return STATUS_TONES.get(status or "", "muted")


def initials(name: str | None) -> str:
    """Two letters for a provider's placeholder logo: ``BambooHR`` -> ``BA``."""
    letters = "".join(ch for ch in (name or "?") if ch.isalnum())
    return (letters[:2] or "?").upper()


def register_filters(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(status_tone)
    app.add_template_filter(initials)

    @app.context_processor
    def stackone_mode() -> dict[str, Any]:
        """The plugin's own reading of ``STACKONE_SANDBOX``, and where the sandbox lives."""
        state = get_state(app)
        dashboard = None
        if state.sandbox_path:
            dashboard = f"{request.script_root}{state.sandbox_path}/"
        return {"sandbox_mode": state.settings.sandbox, "sandbox_dashboard": dashboard}
