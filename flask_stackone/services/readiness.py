"""Whether one registration can work: the configuration problems that would make a route
or the widget fail, each naming the setting that fixes it.

The app's first served request logs them once and ``flask stackone check`` prints them;
registering the blueprint (a test building the app, ``flask db upgrade``) says nothing.
"""

from __future__ import annotations

from flask import current_app

from ..core.hub_script import HUB_VERSION, INSTALL_COMMAND, read_verified
from .state import StackOneState


def configuration_problems(state: StackOneState) -> list[str]:
    """What keeps this registration from working, one sentence each naming its setting.

    Needs an app context (``SECRET_KEY`` is read from the current app).

    :returns: the problems, in a fixed order; empty when it is configured.
    """
    settings = state.settings
    problems = []
    if state.api_client is None:
        problems.append(
            f"{settings.name('api_key')} is not set: the token route answers 503 and no "
            "session or auth link can be created"
        )
    if not settings.webhook_secret:
        problems.append(
            f"{settings.name('webhook_secret')} is not set: the webhook route answers 503 "
            "and no account.* webhook is received"
        )
    if state.owner_loader() is None:
        problems.append(
            f"no owner loader: decorate the function that returns the signed-in customer "
            f"with {state.loader_hint}"
        )
    if not current_app.config.get("SECRET_KEY"):
        problems.append("SECRET_KEY is not set: onboarding links are signed with it")
    if not settings.hub_script_url and read_verified(settings.hub_dir, HUB_VERSION) is None:
        problems.append(
            f"the StackOne Hub script is not installed: run `{INSTALL_COMMAND}` or set "
            f"{settings.name('hub_script_url')}"
        )
    return problems
