"""Profile and privacy in the member portal: contact details, birthday, country and
consents with every change recorded; completing the profile earns the partners'
profile-completion points once; "download my data" and "erase my account" each
confirmed by a link e-mailed to the member, single use and expiring. Every page:
anonymous visitors go to sign in, another member's session cannot use this member's
link, CSRF is enforced, a refused request changes nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail

from coalition.ledger.selectors import balance
from coalition.members.models import Member, MemberChange, MemberPrivacyRequest, MemberStatus
from coalition.members.privacy import PRIVACY_LINK_MINUTES
from loyalty_kernel import clock
from loyalty_kernel.tenancy import use_public_schema
from tenants.earning.models import BehaviourAward, BehaviourRule
from tenants.partners.models import Partner
from tests.testkit import host_client, in_partner
from tests.testkit.api import funded_member
from tests.testkit.portal import portal_client, public_host

pytestmark = pytest.mark.django_db

PROFILE = {
    "phone": "+34 600 123 456",
    "birth_date": "1990-04-21",
    "country": "es",
    "marketing_email_consent": "on",
}


def _state() -> Any:
    return (
        sorted(
            Member.objects.values_list(
                "pk", "email", "phone", "birth_date", "country", "status",
                "marketing_email_consent", "marketing_sms_consent", "data_sharing_consent",
            )
        ),
        MemberChange.objects.count(),
        sorted(MemberPrivacyRequest.objects.values_list("pk", "used_at")),
    )  # fmt: skip


def _link(kind: str) -> str:
    found = re.search(rf"(/portal/privacy/{kind}/confirm/\?t=[\w-]+)", mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found.group(1)


def _ask(client: Any, kind: str, capture: Any) -> str:
    with capture(execute=True):
        asked = client.post(f"/portal/privacy/{kind}/")
    assert asked.status_code == 302
    return _link(kind)


def test_a_member_completes_their_profile_and_earns_the_partners_points_once(
    partner_a: Partner,
) -> None:
    # given: partner alpha rewards a complete profile with 40 points
    with in_partner(partner_a):
        BehaviourRule.objects.create(event="profile_completion", points=40, max_awards=1)
    use_public_schema()
    member = funded_member(partner_a, 0, "profile")
    client = portal_client(member)
    assert "0 of 3 details filled in" in client.get("/portal/profile/").content.decode()

    # when: they fill in their details and agree to e-mail offers
    saved = client.post("/portal/profile/", PROFILE)

    # then: saved, each change recorded, 40 points from alpha
    assert saved.status_code == 302
    member.refresh_from_db()
    assert (member.phone, str(member.birth_date), member.country) == (
        "+34600123456", "1990-04-21", "ES",
    )  # fmt: skip
    assert member.marketing_email_consent is True
    assert member.consent_updated_at is not None
    assert sorted(MemberChange.objects.filter(member=member).values_list("field", "change")) == [
        ("birth_date", "changed"),
        ("country", "changed"),
        ("marketing_email_consent", "granted"),
        ("phone", "changed"),
    ]
    assert balance(member.pk) == 40
    page = client.get("/portal/profile/").content.decode()
    assert "40 points from" in page
    assert "Your profile is complete." in page
    assert "Date of birth: changed" in page

    # when: they remove the phone, then enter it again
    client.post("/portal/profile/", {**PROFILE, "phone": ""})
    client.post("/portal/profile/", PROFILE)
    # then: no second award; the withdrawal of a consent is recorded too
    client.post("/portal/profile/", {**PROFILE, "marketing_email_consent": ""})
    assert balance(member.pk) == 40
    with in_partner(partner_a):
        assert BehaviourAward.objects.filter(member_id=member.pk).count() == 1
    use_public_schema()
    assert MemberChange.objects.filter(
        member=member, field="marketing_email_consent", change="withdrawn"
    ).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me", "is not a phone number"),
        ("birth_date", "2999-01-01", "Enter a date of birth between 1900 and today"),
        ("birth_date", "21/04/1990", "Enter a date like 1990-04-21"),
        ("country", "Spain", "Ensure this value has at most 2 characters"),
        ("country", "1X", "Enter a two-letter country code, like ES"),
    ],
)
def test_a_wrong_detail_is_explained_next_to_its_field_and_nothing_is_saved(
    field: str, value: str, message: str, partner_a: Partner
) -> None:
    client = portal_client(funded_member(partner_a, 0, "wrong"))
    before = _state()
    answer = client.post("/portal/profile/", {**PROFILE, field: value})
    assert answer.status_code == 400
    text = answer.content.decode()
    assert message in text
    assert f'id="id_{field}-error"' in text or "There is a problem" in text
    assert _state() == before


def test_a_phone_of_another_member_is_refused(partner_a: Partner) -> None:
    other = funded_member(partner_a, 0, "other")
    portal_client(other).post("/portal/profile/", PROFILE)
    client = portal_client(funded_member(partner_a, 0, "second"))
    before = _state()
    answer = client.post("/portal/profile/", PROFILE)
    assert answer.status_code == 400
    assert "That phone number belongs to another member" in answer.content.decode()
    assert _state() == before


def test_download_my_data_works_once_from_the_emailed_link(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a member with points and a profile
    member = funded_member(partner_a, 120, "export")
    client = portal_client(member)
    client.post("/portal/profile/", PROFILE)

    # when: they ask for their data, then open the e-mailed link
    link = _ask(client, "export", django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == [member.email]
    shown = client.get(link)
    assert shown.status_code == 200
    assert "Download my data" in shown.content.decode()
    token = link.split("?t=")[1]
    download = client.post("/portal/privacy/export/confirm/", {"t": token})

    # then: a JSON file of everything, once
    assert download.status_code == 200
    assert download["Content-Type"] == "application/json"
    assert "attachment" in download["Content-Disposition"]
    data = json.loads(download.content)
    assert data["member"]["member_number"] == member.member_number
    assert data["member"]["email"] == member.email
    assert data["balance"] == 120
    assert data["history"][0]["points"] == 120
    assert data["consents"]["marketing_email"] is True
    assert {c["field"] for c in data["profile_changes"]} >= {"phone", "country"}
    assert data["notifications"]["choices"]["points_earned"] is True
    again = client.post("/portal/privacy/export/confirm/", {"t": token})
    assert again.status_code == 400
    assert "This link does not work any more" in again.content.decode()


def test_erase_my_account_from_the_emailed_link_signs_out_and_erases(
    partner_a: Partner, django_capture_on_commit_callbacks: Any
) -> None:
    member = funded_member(partner_a, 50, "erase")
    client = portal_client(member)
    link = _ask(client, "erase", django_capture_on_commit_callbacks)
    page = client.get(link).content.decode()
    assert "This cannot be undone" in page
    erased = client.post("/portal/privacy/erase/confirm/", {"t": link.split("?t=")[1]})
    assert erased.status_code == 302
    assert erased["Location"] == "/portal/sign-in/"
    member.refresh_from_db()
    assert member.status == MemberStatus.ERASED
    assert "@erased.invalid" in member.email
    # the session is gone: the portal asks to sign in again
    assert client.get("/portal/").status_code == 302


def test_a_link_expires_and_belongs_to_its_member_and_its_kind(
    partner_a: Partner, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    member = funded_member(partner_a, 10, "owner")
    client = portal_client(member)
    link = _ask(client, "erase", django_capture_on_commit_callbacks)
    token = link.split("?t=")[1]
    intruder = portal_client(funded_member(partner_a, 10, "intruder"))
    before = _state()
    # another member's session, the other kind of request, a made-up token: refused
    assert intruder.post("/portal/privacy/erase/confirm/", {"t": token}).status_code == 400
    assert intruder.get(link).status_code == 400
    assert client.post("/portal/privacy/export/confirm/", {"t": token}).status_code == 400
    assert client.post("/portal/privacy/erase/confirm/", {"t": "made-up"}).status_code == 400
    # after the link's minutes: refused
    later = clock.now() + timedelta(minutes=PRIVACY_LINK_MINUTES, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    late = client.post("/portal/privacy/erase/confirm/", {"t": token})
    assert late.status_code == 400
    assert _state() == before


PAGES = (
    ("get", "/portal/profile/"),
    ("post", "/portal/profile/"),
    ("get", "/portal/privacy/"),
    ("post", "/portal/privacy/export/"),
    ("post", "/portal/privacy/erase/"),
    ("get", "/portal/privacy/export/confirm/?t=x"),
    ("post", "/portal/privacy/export/confirm/"),
    ("get", "/portal/privacy/erase/confirm/?t=x"),
    ("post", "/portal/privacy/erase/confirm/"),
)


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(
    method: str, url: str, partner_a: Partner
) -> None:
    funded_member(partner_a, 0, "anon")
    before = _state()
    answer = getattr(host_client(public_host()), method)(url, {**PROFILE, "t": "x"})
    assert answer.status_code == 302
    assert answer["Location"].startswith("/portal/sign-in/?next=")
    assert _state() == before


@pytest.mark.parametrize(("method", "url"), [page for page in PAGES if page[0] == "post"])
def test_profile_and_privacy_forms_refuse_a_post_without_the_csrf_token(
    method: str, url: str, partner_a: Partner
) -> None:
    client = portal_client(funded_member(partner_a, 0, f"csrf-{uuid4().hex[:4]}"))
    client.handler.enforce_csrf_checks = True
    before = _state()
    assert client.post(url, {**PROFILE, "t": "x"}).status_code == 403
    assert _state() == before
