"""flask_stackone.core.webhooks: StackOne's signature scheme and event parsing, no Flask."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from flask_stackone import (
    AccountEvent,
    WebhookEvent,
    construct_event,
    parse_event,
    verify_signature,
)
from flask_stackone.core.errors import InvalidPayloadError, SignatureVerificationError
from flask_stackone.core.webhooks import compute_signature
from flask_stackone.testing import make_event, sign

VECTOR_SECRET = "whsec_test_secret"
VECTOR_BODY = b'{"event":"account.created","account_id":"acc_1"}'
VECTOR_SIGNATURE = "o1ephrdEs_SuSeQokaBMlI0nm8iYRRBR5CrmxW7roUM"


def test_the_documented_test_vector():
    assert compute_signature(VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGNATURE
    assert len(VECTOR_SIGNATURE) == 43
    verify_signature(VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_SECRET)


def test_signature_is_base64url_hmac_sha256_without_padding():
    body = make_event("account.updated", account_id="acc_9")
    digest = hmac.new(b"s3cret", body, hashlib.sha256).digest()
    assert sign(body, "s3cret") == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_padded_header_is_accepted_too():
    verify_signature(VECTOR_BODY, VECTOR_SIGNATURE + "=", VECTOR_SECRET)
    verify_signature(VECTOR_BODY, (VECTOR_SIGNATURE + "=").encode(), VECTOR_SECRET)


def test_a_secret_is_used_as_utf8_text():
    body = b'{"event":"account.created"}'
    verify_signature(body, compute_signature(body, "clé-ü"), ["clé-ü"])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        VECTOR_SIGNATURE[:-1],
        VECTOR_SIGNATURE + "A",
        VECTOR_SIGNATURE + "===",
        "sha256=" + VECTOR_SIGNATURE,
        VECTOR_SIGNATURE.replace("_", "/"),  # standard base64 alphabet is not StackOne's
        "é" * 43,
        "\x00" * 43,
        "A" * 10_000,
        base64.urlsafe_b64encode(b"x" * 31).decode(),
    ],
)
def test_malformed_or_wrong_headers_are_simply_invalid(header):
    with pytest.raises(SignatureVerificationError):
        verify_signature(VECTOR_BODY, header, VECTOR_SECRET)


def test_tampered_body_fails():
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signature(VECTOR_BODY.replace(b"acc_1", b"acc_2"), VECTOR_SIGNATURE, VECTOR_SECRET)


def test_wrong_secret_fails():
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verify_signature(VECTOR_BODY, VECTOR_SIGNATURE, "whsec_other")


def test_rotation_accepts_either_secret():
    for secret in ("old", "new"):
        verify_signature(VECTOR_BODY, compute_signature(VECTOR_BODY, secret), ["old", "new"])
    with pytest.raises(SignatureVerificationError):
        verify_signature(VECTOR_BODY, compute_signature(VECTOR_BODY, "older"), ["old", "new"])


@pytest.mark.parametrize("secrets", [None, "", [], ["", None]])
def test_no_secret_fails_closed(secrets):
    with pytest.raises(SignatureVerificationError, match="no webhook secret"):
        verify_signature(VECTOR_BODY, VECTOR_SIGNATURE, secrets)


def test_body_must_be_bytes():
    with pytest.raises(TypeError):
        verify_signature(VECTOR_BODY.decode(), VECTOR_SIGNATURE, VECTOR_SECRET)  # type: ignore[arg-type]


def test_account_event_is_parsed_with_owner_and_delivery_key():
    body = make_event(
        "account.created",
        account_id="acc_1",
        origin_owner_id="org_1",
        origin_owner_name="Acme",
        origin_username="ada@acme.test",
        event_date="2026-11-24T10:00:00.000Z",
        setup_information={"subdomain": "acme"},
    )
    event = parse_event(body)
    assert isinstance(event, AccountEvent)
    assert (event.type, event.account_id, event.provider) == (
        "account.created",
        "acc_1",
        "bamboohr",
    )
    assert (event.owner_id, event.owner_name, event.username) == ("org_1", "Acme", "ada@acme.test")
    assert event.event_date.isoformat() == "2026-11-24T10:00:00+00:00"
    assert event.source == "webhook"
    assert event.delivery_key == hashlib.sha256(body).hexdigest()
    assert event.raw["setup_information"] == {"subdomain": "acme"}


def test_other_event_types_are_passed_on_not_refused():
    event = parse_event(
        make_event("hris_employees.updated", record_type="employee", record_id="e1")
    )
    assert type(event) is WebhookEvent
    assert event.type == "hris_employees.updated" and event.record_id == "e1"


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b"42", b"\xff\xfe{}", b"[" * 100_000],
)  # fmt: skip
def test_invalid_payloads(body):
    with pytest.raises(InvalidPayloadError):
        parse_event(body)


@pytest.mark.parametrize(
    "body",
    [b'{"account_id": "a"}', b'{"event": 5}', b'{"event": ""}', b'{"kind": "something.new"}'],
)
def test_any_json_object_is_an_event(body):
    """StackOne adds kinds whose shapes no source shows: a JSON object without an ``event``
    string is still an event, of type ``""``, with the whole body in ``raw``."""
    event = parse_event(body)
    assert type(event) is WebhookEvent
    assert event.type == ""
    assert event.raw == json.loads(body)


def test_construct_event_verifies_before_parsing():
    with pytest.raises(SignatureVerificationError):
        construct_event(b"not json", "bad", VECTOR_SECRET)
    event = construct_event(VECTOR_BODY, VECTOR_SIGNATURE, [VECTOR_SECRET])
    assert event.account_id == "acc_1"


def _same_digest_variants(signature: str) -> list[str]:
    """Every other 43-character string that decodes to the same 32 bytes: the last
    character carries two unused bits, which a lenient decoder ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.index(signature[-1])
    return [signature[:-1] + alphabet[value | low] for low in (1, 2, 3)]


@pytest.mark.parametrize("suffix", ["", "="])
def test_only_the_canonical_encoding_verifies(suffix):
    """Four header strings decoded to the one valid digest; now only the canonical one
    (with or without its one '=') verifies, and a doubled '=' is refused too."""
    variants = _same_digest_variants(VECTOR_SIGNATURE)
    for variant in variants:
        assert base64.urlsafe_b64decode(variant + "=") == base64.urlsafe_b64decode(
            VECTOR_SIGNATURE + "="
        )
        with pytest.raises(SignatureVerificationError, match=r"not canonical|base64url"):
            verify_signature(VECTOR_BODY, variant + suffix, VECTOR_SECRET)
    with pytest.raises(SignatureVerificationError):
        verify_signature(VECTOR_BODY, VECTOR_SIGNATURE + "==", VECTOR_SECRET)
    verify_signature(VECTOR_BODY, VECTOR_SIGNATURE + suffix, VECTOR_SECRET)


def test_every_secret_is_still_tried_with_a_canonical_header():
    body = make_event("account.created", account_id="acc_3")
    for secret in ("old", "new"):
        signature = compute_signature(body, secret)
        verify_signature(body, signature, ["old", "new"])
        for variant in _same_digest_variants(signature):
            with pytest.raises(SignatureVerificationError):
                verify_signature(body, variant, ["old", "new"])


def test_construct_event_refuses_an_old_delivery_when_given_a_max_age():
    from flask_stackone.core.errors import StaleEventError

    body = make_event("account.created", sent_at="2020-01-01T00:00:00.000Z")
    signature = compute_signature(body, VECTOR_SECRET)
    with pytest.raises(StaleEventError) as info:
        construct_event(body, signature, VECTOR_SECRET, max_age=3600)
    assert info.value.code == "stale_event"
    assert construct_event(body, signature, VECTOR_SECRET).type == "account.created"
