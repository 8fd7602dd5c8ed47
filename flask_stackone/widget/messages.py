"""The messages our scripts show, in English; the server renders them in the page's language
(data attributes), so the scripts need no translation of their own.

``%(name)s`` in a message is filled in by the script.
"""

from __future__ import annotations

from ..i18n import N_

#: The glue's messages (``static/stackone/hub.js``).
GLUE_MESSAGES = {
    "loading": N_("Loading the StackOne Hub…"),
    "connect": N_("Connect an account"),
    "no_token": N_("The server sent no session token."),
    "no_reason": N_("No reason given."),
    "not_usable": N_(
        "The account was linked, but its status is “%(status)s”: it cannot be used yet."
    ),
    "continue": N_("Continue"),
    "close": N_("Close"),
    "retry": N_("Try again"),
    "blocked": N_(
        "The StackOne Hub could not be loaded: the network, a content security policy or its "
        "integrity check blocked it."
    ),
    "signed_out": N_("Please sign in to link an account."),
    "not_configured": N_("Account linking is not set up on this server yet."),
    "unavailable": N_("StackOne is not available right now. Please try again in a moment."),
    "offline": N_("This page could not reach the server. Check your connection."),
    "not_confirmed": N_("The account was connected, but this site could not confirm it."),
    "not_started": N_("The StackOne Hub could not be started."),
    "csrf_fix": N_("Reload the page and try again."),
    "restarted": N_(
        "The session ran out before the account was connected, so the form started again. "
        "Please enter the details once more."
    ),
}

#: The accounts panel script's messages (``static/stackone/accounts.js``).
PANEL_MESSAGES = {
    "signed_out": N_("Please sign in again to change your connected systems."),
    "offline": N_("This page could not reach the server. Check your connection."),
    "unavailable": N_("StackOne is not available right now. Please try again in a moment."),
    "not_configured": N_("Connected systems are not set up on this server yet."),
    "not_recorded": N_("The system was disconnected, but this site could not record it."),
    "not_disconnected": N_("The system could not be disconnected: %(reason)s"),
    "not_loaded": N_("The list could not be loaded: %(reason)s"),
    "not_refreshed": N_("The list could not be refreshed. %(problem)s"),
    "this_system": N_("This system"),
    "the_system": N_("The system"),
    "hub_missing": N_("The StackOne Hub is not available on this page. Reload it and try again."),
    "reconnect_title": N_("Re-connect %(name)s"),
    "reconnected": N_("%(name)s is re-connected."),
    "connected": N_("%(name)s is connected."),
    "needs_attention": N_("Its status is “%(status)s”: it needs attention."),
    "retry": N_("Try again"),
    "ask": N_("Disconnect %(name)s? This site will no longer be able to use it."),
    "yes": N_("Yes, disconnect"),
    "yes_label": N_("Yes, disconnect %(name)s"),
    "cancel": N_("Cancel"),
    "disconnecting": N_("Disconnecting…"),
    "already": N_("%(name)s was already disconnected."),
    "disconnected": N_("%(name)s is disconnected."),
    "csrf_fix": N_("Reload the page and try again."),
}
