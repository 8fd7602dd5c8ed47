"""The one table from an error to its answers: the routes, the accounts panel and the CLI read
it, and the core's errors carry a code and their facts, never page copy."""

from __future__ import annotations

import inspect
import logging

import pytest

import flask_stackone
from flask_stackone import errors
from flask_stackone.error_answers import TABLE, answer_for

ALL_ERRORS = [
    obj
    for obj in vars(errors).values()
    if inspect.isclass(obj) and issubclass(obj, errors.FlaskStackOneError)
]
HUB_INSTALL = (errors.HubInstallError,)  # the command line's own failures, never a route's
FACTS = {errors.WrongOwnerError: {"signed_in": True}}


def build(cls: type[errors.FlaskStackOneError], **extra: object) -> errors.FlaskStackOneError:
    return cls("what happened", **{**FACTS.get(cls, {}), **extra})  # type: ignore[arg-type]


def test_errors_module_names_every_exception_of_the_package() -> None:
    from flask_stackone.core import errors as core_errors

    defined = {
        name
        for name, obj in vars(core_errors).items()
        if inspect.isclass(obj) and issubclass(obj, Exception)
    }
    assert defined == set(errors.__all__)


def test_the_top_level_keeps_only_the_errors_users_catch() -> None:
    top = [
        name
        for name in flask_stackone.__all__
        if inspect.isclass(getattr(flask_stackone, name))
        and issubclass(getattr(flask_stackone, name), Exception)
    ]
    assert sorted(top) == [
        "ConfigurationError",
        "FlaskStackOneError",
        "InvalidOptionError",
        "NotFoundError",
        "SignatureVerificationError",
        "StackOneError",
        "WebhookError",
    ]
    assert flask_stackone.errors is errors


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_is_built_the_same_way_and_carries_no_page_copy(
    cls: type[errors.FlaskStackOneError],
) -> None:
    error = build(cls, code="a_reason")
    assert (error.message, error.code) == ("what happened", "a_reason")
    assert build(cls).code == cls.code and cls.code.isidentifier()
    assert not {"title", "hint", "status"} & set(vars(cls)), "page copy belongs to the table"


@pytest.mark.parametrize(
    "cls",
    [
        c
        for c in ALL_ERRORS
        if not issubclass(c, HUB_INSTALL) and c is not errors.FlaskStackOneError
    ],
    ids=lambda c: c.__name__,
)
def test_every_error_a_route_may_raise_has_answers(cls: type[errors.FlaskStackOneError]) -> None:
    answer = answer_for(build(cls))
    assert answer is not None
    assert 400 <= answer.status < 600
    assert answer.code and answer.message and answer.title and answer.hint and answer.report


def test_an_error_no_route_raises_has_no_answer() -> None:
    assert answer_for(errors.HubIntegrityError("size differs")) is None


def test_the_nearest_class_answers() -> None:
    assert set(TABLE) <= set(ALL_ERRORS)
    timeout = answer_for(errors.StackOneTimeout("read timed out", request_id="req_9"))
    assert timeout is not None
    assert (timeout.status, timeout.code) == (504, "stackone_timeout")
    assert timeout.message == "StackOne did not answer in time (StackOne request id req_9)"
    assert timeout.report == "StackOne call failed: read timed out [request id req_9]"
    assert timeout.level == logging.WARNING
    limited = answer_for(errors.RateLimitedError("slow down", retry_after=7.4, status=429))
    assert limited is not None and (limited.status, dict(limited.headers)) == (
        503,
        {"Retry-After": "7"},
    )
    assert answer_for(errors.ServerError("boom", status=500)).code == "stackone_unavailable"  # type: ignore[union-attr]


def test_a_browser_never_sees_stackones_text_but_the_developer_does() -> None:
    answer = answer_for(errors.AuthenticationError("key acme-internal-42 revoked", status=401))
    assert answer is not None
    assert "acme-internal-42" not in answer.message + answer.title + answer.hint
    assert "acme-internal-42" in answer.report


@pytest.mark.parametrize(("signed_in", "status"), [(False, 401), (True, 403)])
def test_the_wrong_owner_answer_depends_on_who_is_signed_in(signed_in: bool, status: int) -> None:
    answer = answer_for(errors.WrongOwnerError("owner org_2 is signed in", signed_in=signed_in))
    assert answer is not None and (answer.status, answer.code) == (status, "wrong_owner")
    assert "org_2" not in answer.message  # the ids are for the log, not the page
