from datetime import datetime, timezone

import pytest

from flask_stackone import Account, Owner
from flask_stackone.core.models import parse_datetime


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
