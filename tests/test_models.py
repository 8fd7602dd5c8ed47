import json
from datetime import datetime, timezone

import pytest

from flask_stackone import Account, ConnectSession, Owner, StatusReason, parse_event
from flask_stackone.core.models import parse_datetime
from flask_stackone.testing import make_event


def test_owner_requires_id_and_name():
    with pytest.raises(ValueError, match=r"Owner\.id"):
        Owner("", "Acme")
    with pytest.raises(ValueError, match=r"Owner\.name"):
        Owner("org_1", "  ")
    with pytest.raises(ValueError, match=r"Owner\.id"):
        Owner(42, "Acme")  # type: ignore[arg-type]


def test_account_parsing_is_lenient():
    account = Account.from_api(
        {
            "id": 123,
            "provider": "bamboohr",
            "status": "brand_new_status",
            "status_reasons": [{"code": "perm", "description": "Missing scope"}, "junk"],
            "origin_owner_id": "org_1",
            "setup_information": "not an object",
            "created_at": "2026-01-02T03:04:05.000Z",
            "surprise": {"kept": True},
        }
    )
    assert account.id == "123"
    assert account.status == "brand_new_status" and not account.is_active
    assert account.status_reasons[0].description == "Missing scope"
    assert len(account.status_reasons) == 1
    assert account.setup_information == {}
    assert account.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert account.raw["surprise"] == {"kept": True}
    assert account.summary() == {
        "id": "123",
        "provider": "bamboohr",
        "status": "brand_new_status",
        "status_reasons": [{"code": "perm", "description": "Missing scope", "timestamp": None}],
    }


@pytest.mark.parametrize("value", [None, "", "yesterday", 5, "2026-13-01"])
def test_bad_dates_become_none(value):
    assert parse_datetime(value) is None


def test_naive_dates_are_utc():
    assert parse_datetime("2026-01-02T03:04:05").tzinfo == timezone.utc


def test_account_to_dict_is_json_ready():
    account = Account.from_api(
        {
            "id": "acc_1",
            "provider": "hibob",
            "provider_name": "HiBob",
            "status": "error",
            "status_reasons": [
                {"code": "perm", "description": "Missing scope", "timestamp": "2026-01-02"}
            ],
            "origin_owner_id": "org_1",
            "origin_owner_name": "Acme Ltd",
            "setup_information": {"subdomain": "acme"},
            "created_at": "2026-01-02T03:04:05.000Z",
            "updated_at": "2026-01-02T04:04:05.250+01:00",
        }
    )
    as_json = json.loads(json.dumps(account.to_dict()))
    assert as_json == {
        "id": "acc_1",
        "provider": "hibob",
        "provider_name": "HiBob",
        "status": "error",
        "status_reasons": [
            {"code": "perm", "description": "Missing scope", "timestamp": "2026-01-02"}
        ],
        "origin_owner_id": "org_1",
        "origin_owner_name": "Acme Ltd",
        "origin_username": None,
        "label": None,
        "type": None,
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05.250000Z",
    }
    assert parse_datetime(as_json["updated_at"]) == account.updated_at


def test_to_dict_leaves_credentials_and_raw_out():
    requested = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    session = ConnectSession.from_api(
        {
            "id": 7,
            "token": "hub-session-token",
            "auth_link_url": "https://app.stackone.com/hub/connect?token=hub-session-token",
            "categories": ["hris"],
            "origin_owner_id": "org_1",
        },
        expires_in=600,
        requested_at=requested,
    )
    text = json.dumps(session.to_dict())
    assert "hub-session-token" not in text
    assert json.loads(text)["expires_at"] == "2026-01-02T03:14:05Z"
    assert json.loads(text)["categories"] == ["hris"]
    assert "raw" not in json.loads(text)


def test_events_and_owners_to_dict():
    event = parse_event(make_event("account.created", account_id="acc_9", origin_owner_id="o1"))
    as_json = json.loads(json.dumps(event.to_dict()))
    assert as_json["type"] == "account.created"
    assert as_json["account_id"] == "acc_9" and as_json["owner_id"] == "o1"
    assert as_json["source"] == "webhook"
    assert parse_datetime(as_json["sent_at"]) == event.sent_at
    assert Owner("org_1", "Acme").to_dict() == {"id": "org_1", "name": "Acme", "username": None}
    assert StatusReason(code="x").to_dict() == {"code": "x", "description": None, "timestamp": None}
