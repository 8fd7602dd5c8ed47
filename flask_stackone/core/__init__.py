"""The Flask-free core of flask-stackone: the StackOne client, the models, the errors, webhook
signing and verification, the delivery stores and the pinned Hub script.

Nothing under ``flask_stackone.core`` imports Flask or click, so a worker process or another
framework can use it alone (``from flask_stackone.core.webhooks import verify_signature``).
"""
