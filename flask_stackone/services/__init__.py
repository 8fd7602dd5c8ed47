"""The rules of account linking, each in one place, for the routes and the CLI to call.

Services raise typed errors (:mod:`flask_stackone.core.errors`) and never build a response.
"""
