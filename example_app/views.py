"""The product's pages: overview, integrations, event log and outbox, all per organisation."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from flask_stackone import (
    ConfigurationError,
    InvalidOptionError,
    NotFoundError,
    StackOneError,
    get_client,
)

from . import accounts, outbox
from .auth import login_required
from .db import get_db
from .security import OWN_BLUEPRINTS

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("main.overview" if g.user else "auth.login"))


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for this on pages that name no icon (the sandbox's own pages)."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/overview")
@login_required
def overview() -> str:
    db = get_db()
    linked = accounts.list_accounts(g.user["owner_id"])
    events = accounts.list_events(db, g.user["organisation_id"], limit=5)
    return render_template(
        "overview.html",
        accounts=linked,
        attention=[a for a in linked if a["status"] != "active"],
        events=events,
        invitations=outbox.count(db, g.user["organisation_id"]),
    )


@bp.get("/integrations")
@login_required
def integrations() -> str:
    return render_template(
        "integrations.html",
        accounts=accounts.list_accounts(g.user["owner_id"]),
        providers=outbox.PROVIDERS,
    )


@bp.get("/connected-systems")
@login_required
def connected_systems() -> str:
    """The same accounts as the Integrations page, read from StackOne by the plugin's
    ``{{ stackone_accounts() }}`` panel instead of from this app's database."""
    return render_template("connected_systems.html")


def _own_account(account_id: str) -> dict[str, object]:
    """The signed-in organisation's account, or 404 (also for another organisation's)."""
    account = accounts.get_account(g.user["owner_id"], account_id)
    if account is None:
        abort(404)
    return account


@bp.get("/integrations/<account_id>/reconnect")
@login_required
def reconnect(account_id: str) -> str:
    return render_template("reconnect.html", account=_own_account(account_id))


@bp.post("/integrations/<account_id>/check")
@login_required
def check_status(account_id: str) -> Response:
    """Ask StackOne for the account's current status and store it."""
    user = g.user
    account = _own_account(account_id)
    try:
        current = get_client().get_account(account_id)
    except NotFoundError:
        accounts.linked().tombstone(account_id, at=datetime.now(timezone.utc))
        flash(f"{account['name']} no longer exists at StackOne, so it was removed.", "warning")
        return redirect(url_for("main.integrations"))
    except StackOneError as exc:  # its text is for the log, not for the user
        current_app.logger.warning("status check of %s failed: %s", account_id, exc)
        flash(f"Could not reach StackOne to check {account['name']}. Try again shortly.", "error")
        return redirect(url_for("main.integrations"))
    if current.origin_owner_id != user["owner_id"]:
        abort(404)
    accounts.linked().store(current, at=datetime.now(timezone.utc))
    if current.is_active:
        flash(f"{account['name']} is connected and active.", "success")
    else:
        reasons = "; ".join(r.description for r in current.status_reasons if r.description)
        flash(
            f"{account['name']} needs attention: status {current.status}"
            + (f" ({reasons})" if reasons else "")
            + ". Re-connect it to fix this.",
            "warning",
        )
    return redirect(url_for("main.integrations"))


@bp.route("/integrations/<account_id>/disconnect", methods=["GET", "POST"])
@login_required
def disconnect(account_id: str) -> str | Response:
    """GET asks for confirmation; the POST (CSRF-checked) deletes the account at StackOne."""
    account = _own_account(account_id)
    if request.method == "GET":
        return render_template("disconnect.html", account=account)
    try:
        get_client().delete_account(account_id)
    except NotFoundError:
        pass  # already gone at StackOne: forget it here too
    except StackOneError as exc:  # its text is for the log, not for the user
        current_app.logger.warning("disconnecting %s failed: %s", account_id, exc)
        flash(f"StackOne could not disconnect {account['name']}. Try again.", "error")
        return redirect(url_for("main.integrations"))
    accounts.linked().tombstone(account_id, at=datetime.now(timezone.utc))
    flash(f"{account['name']} is disconnected.", "success")
    return redirect(url_for("main.integrations"))


@bp.get("/events")
@login_required
def events() -> str:
    return render_template(
        "events.html", events=accounts.list_events(get_db(), g.user["organisation_id"])
    )


def _refused_invitation(form: outbox.InvitationForm) -> tuple[str, int]:
    """The integrations page again, with the form as filled in, answered 400."""
    page = render_template(
        "integrations.html",
        accounts=accounts.list_accounts(g.user["owner_id"]),
        providers=outbox.PROVIDERS,
        invitation=form,
    )
    return page, 400


@bp.post("/integrations/invitations")
@login_required
def invite() -> str | Response | tuple[str, int]:
    """Email a colleague an onboarding link (written to the outbox, not sent)."""
    form = outbox.InvitationForm.from_request(request.form)
    if form.errors:
        for error in form.errors:
            flash(error, "error")
        return _refused_invitation(form)
    try:
        outbox.send_invitation(form)
    except InvalidOptionError as exc:  # e.g. a provider STACKONE_PROVIDERS does not offer
        flash(f"That link cannot be made: {exc}", "error")
        return redirect(url_for("main.integrations"))
    except ConfigurationError as exc:
        # No STACKONE_PUBLIC_URL and a Host header nothing vouches for: a link built from
        # it could point anywhere, so none is made (the log says what to set).
        current_app.logger.error("invitation not sent: %s", exc)
        flash(
            "Invitations cannot be sent from this address. Open Acme People at its usual address.",
            "error",
        )
        return _refused_invitation(form)
    flash(f"Onboarding link sent to {form.recipient}. It is in the outbox.", "success")
    return redirect(url_for("main.outbox_page"))


@bp.get("/outbox")
@login_required
def outbox_page() -> str:
    return render_template("outbox.html", messages=outbox.list_messages(get_db(), g.user))


@bp.post("/outbox/<int:message_id>/withdraw")
@login_required
def withdraw_invitation(message_id: int) -> Response:
    """Withdraw an invitation of the organisation: its link stops working at once."""
    message = outbox.withdraw(get_db(), g.user["organisation_id"], message_id)
    if message is None:
        abort(404)
    flash(
        f"The invitation to {message['recipient']} is withdrawn: its link no longer works.",
        "success",
    )
    return redirect(url_for("main.outbox_page"))


@bp.app_errorhandler(CSRFError)
def form_expired(exc: CSRFError) -> HTTPException | tuple[str, int]:
    if request.blueprint not in OWN_BLUEPRINTS:
        return exc
    message = (
        "This form was open too long or came from another site. Reload the page and try again."
    )
    return _error_page(exc, "The form has expired", message)


@bp.app_errorhandler(404)
def not_found(exc: HTTPException) -> HTTPException | tuple[str, int]:
    if request.blueprint not in OWN_BLUEPRINTS:
        return exc
    message = "There is nothing here, or it belongs to another organisation."
    return _error_page(exc, "Page not found", message)


def _error_page(exc: HTTPException, title: str, message: str) -> tuple[str, int]:
    code = exc.code or 500
    return render_template("error.html", code=code, title=title, message=message), code
