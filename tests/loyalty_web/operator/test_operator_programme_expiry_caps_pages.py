"""The expiry and transfer caps pages at work: the expiry policy in force with
its countries (CSV), changed by an admin with ISO codes checked (a typo refused
next to its field, changing nothing); the caps table per kind and tier (CSV),
edited in one go (an empty cell removes a cap), each changed cap audited, the same
values again recording nothing; read-only staff see both without inputs."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.audit.models import AuditEntry
from coalition.expiry.models import ExpiryPolicy
from coalition.expiry.selectors import expiry_policy
from coalition.tiers.models import TierLevel
from coalition.transfers.models import TransferCap
from coalition.transfers.services import yearly_cap
from tests.testkit.operator import operator, signed_in

pytestmark = pytest.mark.django_db

POLICY = {"mode": "fixed", "months": "12", "inactivity_months": "18", "reminder_days": "20",
          "inactivity_only_countries": "de, fr;PT"}  # fmt: skip


def _csv(response: Any) -> list[str]:
    assert response["Content-Type"].startswith("text/csv")
    return b"".join(response.streaming_content).decode().splitlines()


@pytest.fixture
def admin_client() -> Any:
    return signed_in(operator("admin"))


def test_the_expiry_policy_is_set_with_its_countries_and_audited(admin_client: Any) -> None:
    # when an admin saves the policy, the countries typed loosely
    response = admin_client.post("/operator/programme/expiry/", POLICY)
    assert response.status_code == 302
    # then it is in force, the codes cleaned and sorted
    policy = expiry_policy()
    assert (policy.mode, policy.months, policy.inactivity_months, policy.reminder_days) == (
        "fixed", 12, 18, 20)  # fmt: skip
    assert policy.inactivity_only_countries == ["DE", "FR", "PT"]
    (entry,) = AuditEntry.objects.filter(action="programme.expiry_policy_change")
    assert entry.after["inactivity_only_countries"] == ["DE", "FR", "PT"]
    assert entry.partner_id is None
    # and shown, with the countries as CSV
    html = admin_client.get("/operator/programme/expiry/").content.decode()
    assert "Fixed months after earning" in html
    assert '<span class="tag">PT</span>' in html
    lines = _csv(admin_client.get("/operator/programme/expiry/?format=csv"))
    assert lines == ["country,rule,inactivity_months", "DE,inactivity_only,18",
                     "FR,inactivity_only,18", "PT,inactivity_only,18"]  # fmt: skip
    # the same values again record nothing
    admin_client.post("/operator/programme/expiry/", POLICY)
    assert AuditEntry.objects.filter(action="programme.expiry_policy_change").count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inactivity_only_countries": "DE, XX, germany"},
         "Not ISO 3166 country codes: GERMANY, XX"),
        ({"months": "0"}, "Enter at least 1 month"),
        ({"months": "601"}, "Months are a whole number from 1 to 600"),
        ({"mode": "never"}, "Select a valid choice"),
    ],
)  # fmt: skip
def test_a_refused_policy_is_explained_and_changes_nothing(
    admin_client: Any, change: dict[str, str], message: str
) -> None:
    admin_client.post("/operator/programme/expiry/", POLICY)
    before = (list(ExpiryPolicy.objects.values()), AuditEntry.objects.count())
    response = admin_client.post("/operator/programme/expiry/", {**POLICY, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (list(ExpiryPolicy.objects.values()), AuditEntry.objects.count()) == before


def test_the_caps_table_is_edited_in_one_go_and_each_change_audited(admin_client: Any) -> None:
    TierLevel.objects.create(code="basic", name="Basic", rank=0, threshold_points=0)
    TierLevel.objects.create(code="gold", name="Gold", rank=1, threshold_points=5000)
    TransferCap.objects.create(kind="household", tier_code="", yearly_points=800)
    # when an admin sets a default and a gold cap for transfers, and clears the household one
    response = admin_client.post("/operator/programme/transfer-caps/", {
        "transfer__": "500", "transfer__gold": "2000", "household__": ""})  # fmt: skip
    assert response.status_code == 302
    # then the transfers check the caps the table shows
    assert (yearly_cap("transfer", "gold"), yearly_cap("transfer", "basic")) == (2000, 500)
    assert yearly_cap("household", None) is None
    actions = AuditEntry.objects.filter(action="programme.transfer_cap_change")
    assert sorted((e.object_id, e.before["yearly_points"], e.after["yearly_points"])
                  for e in actions) == [("household/default", 800, None),
                                        ("transfer/default", None, 500),
                                        ("transfer/gold", None, 2000)]  # fmt: skip
    lines = _csv(admin_client.get("/operator/programme/transfer-caps/?format=csv"))
    assert lines[0] == "tier_code,tier,kind,yearly_points"
    assert "gold,Gold,transfer,2000" in lines
    assert "default,,household," in lines
    # the same values again record nothing
    admin_client.post("/operator/programme/transfer-caps/", {
        "transfer__": "500", "transfer__gold": "2000", "household__": ""})  # fmt: skip
    assert actions.count() == 3
    # a negative cap is refused and changes nothing
    refused = admin_client.post("/operator/programme/transfer-caps/", {"transfer__": "-1"})
    assert refused.status_code == 400
    assert "A cap cannot be negative" in refused.content.decode()
    assert yearly_cap("transfer", "basic") == 500


def test_read_only_staff_see_the_caps_and_the_policy_without_inputs() -> None:
    TransferCap.objects.create(kind="transfer", tier_code="", yearly_points=750)
    client = signed_in(operator("read_only"))
    caps = client.get("/operator/programme/transfer-caps/").content.decode()
    assert "750" in caps
    assert 'name="transfer__"' not in caps
    assert "Save the caps" not in caps
    expiry = client.get("/operator/programme/expiry/").content.decode()
    assert "Change the policy" not in expiry
