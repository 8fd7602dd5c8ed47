"""The widget: what ``{{ stackone_hub() }}`` puts in a page to link an account.

Three parts, each named once:

- **the Hub**: StackOne's ``<stackone-hub>`` web component, ``@stackone/hub``. Its script
  (``webcomponent.js``) is pinned, installed and verified by
  :mod:`flask_stackone.core.hub_script` (no Flask), installed with :mod:`.commands`.
- **the glue**: our script (``static/stackone/hub.js``, with ``common.js``): it asks the
  token route for a session, loads the Hub, and confirms the linked account.
- **the macro**: :mod:`.macro` renders the placeholder (``templates/stackone/_widget.html``)
  that the glue turns into the Hub; :mod:`.options` checks the options it shares with the
  accounts panel.

:mod:`.assets` serves the Hub script, the glue and the panel's files from memory.
"""
