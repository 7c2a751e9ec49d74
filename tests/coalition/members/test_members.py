"""Membership: enrolment with only an e-mail, look-ups by e-mail, number and card,
blocking, and GDPR erasure that leaves the ledger intact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coalition.ledger import selectors, services
from coalition.ledger.verification import verify
from coalition.members.errors import (
    CardAlreadyUsed,
    EmailAlreadyEnrolled,
    InvalidMemberData,
    MemberNotActive,
    PhoneAlreadyUsed,
    UnknownMember,
)
from coalition.members.models import Member, MemberCard, MemberStatus
from coalition.members.selectors import member_by_card, member_by_email, member_by_number
from coalition.members.services import (
    member_add_card,
    member_enrol,
    member_erase,
    member_set_status,
)
from loyalty_kernel.idempotency import IdempotencyKey, IdempotencyKeyReused, request_hash
from tenants.partners.models import Partner
from tests.testkit.ledger import fetchall, scalar

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_account_cache() -> Iterator[None]:
    services.forget_known_accounts()
    yield
    services.forget_known_accounts()


def _luhn_valid(number: str) -> bool:
    """The Luhn check, written independently of ``coalition.members.numbers``."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


# --- enrolment ----------------------------------------------------------------------


def test_a_member_enrols_with_only_an_email_and_gets_an_empty_wallet() -> None:
    # when someone enrols with nothing but an e-mail address
    member = member_enrol(email="  Ann.Smith@Example.COM ")
    # then they are an active member, found by that address in any case, with a
    # wallet of zero points
    assert member.status == MemberStatus.ACTIVE
    assert member.email == "Ann.Smith@example.com"  # domain lower-cased, local part kept
    assert member.phone is None
    assert member_by_email("ann.smith@EXAMPLE.com") == member
    assert selectors.balance(member.pk) == 0


def test_an_email_is_enrolled_once_whatever_its_case() -> None:
    # given ann@example.com
    member_enrol(email="ann@example.com")
    count = Member.objects.count()
    # when the same address enrols again in another case, then it is refused
    for email in ["ann@example.com", "ANN@example.com", "Ann@EXAMPLE.COM"]:
        with pytest.raises(EmailAlreadyEnrolled):
            member_enrol(email=email)
    assert Member.objects.count() == count


@pytest.mark.parametrize("email", ["", "ann", "ann@", "@example.com", "ann@@example.com"])
def test_an_invalid_email_is_refused(email: str) -> None:
    count = Member.objects.count()
    with pytest.raises(InvalidMemberData) as error:
        member_enrol(email=email)
    assert error.value.field == "email"
    assert Member.objects.count() == count


@pytest.mark.parametrize("phone", ["abc", "12345", "+1234567890123456", "12a4567"])
def test_an_invalid_phone_is_refused(phone: str) -> None:
    count = Member.objects.count()
    with pytest.raises(InvalidMemberData) as error:
        member_enrol(email="bob@example.com", phone=phone)
    assert error.value.field == "phone"
    assert Member.objects.count() == count


def test_a_phone_number_is_normalised_and_belongs_to_one_member() -> None:
    member = member_enrol(email="cy@example.com", phone="+44 20-7946 0958")
    assert member.phone == "+442079460958"
    with pytest.raises(PhoneAlreadyUsed):
        member_enrol(email="dee@example.com", phone="+442079460958")
    assert member_by_email("dee@example.com") is None


def test_enrolment_is_idempotent() -> None:
    # given an enrolment sent with a key
    key = IdempotencyKey("partner:alpha", "signup-42")
    first = member_enrol(email="eve@example.com", idempotency=key)
    count = Member.objects.count()
    # when the same request is retried (even with the address in another case),
    # then the same member comes back and no one else is enrolled
    assert member_enrol(email="eve@example.com", idempotency=key) == first
    assert member_enrol(email="EVE@example.com", idempotency=key) == first
    assert Member.objects.count() == count
    # when the key comes with someone else's data, then it is refused
    with pytest.raises(IdempotencyKeyReused):
        member_enrol(email="frank@example.com", idempotency=key)
    with pytest.raises(IdempotencyKeyReused):
        member_enrol(email="eve@example.com", phone="+15551234567", idempotency=key)
    assert Member.objects.count() == count
    # while the same key from another partner is another request
    other = member_enrol(
        email="frank@example.com", idempotency=IdempotencyKey("partner:beta", "signup-42")
    )
    assert other != first


# --- member numbers and cards -------------------------------------------------------


def test_member_numbers_carry_a_luhn_check_digit() -> None:
    # given a few members
    members = [member_enrol(email=f"num{i}@example.com") for i in range(5)]
    for member in members:
        number = member.member_number
        # then each number is 10 digits with a valid check digit, and finds them
        assert len(number) == 10
        assert number.isdigit()
        assert _luhn_valid(number), number
        assert member_by_number(f" {number} ") == member
        # and any mistyped digit is caught before any look-up
        for position in range(10):
            for digit in "0123456789":
                if digit == number[position]:
                    continue
                typo = number[:position] + digit + number[position + 1 :]
                assert not _luhn_valid(typo)
                assert member_by_number(typo) is None
    # and numbers are unique
    assert len({member.member_number for member in members}) == len(members)


def test_a_card_finds_its_member_and_belongs_to_one_member() -> None:
    # given ann's card
    ann, bob = member_enrol(email="ann@example.com"), member_enrol(email="bob@example.com")
    card = member_add_card(member_id=ann.pk, card_number=" 6001234567890 ")
    assert card.card_number == "6001234567890"
    # then it finds her, and nobody else can have it
    assert member_by_card("6001234567890") == ann
    assert member_by_card("6001234567891") is None
    with pytest.raises(CardAlreadyUsed):
        member_add_card(member_id=bob.pk, card_number="6001234567890")
    for bad in ["", "12 34", "x" * 33, "12-34"]:
        with pytest.raises(InvalidMemberData):
            member_add_card(member_id=bob.pk, card_number=bad)
    with pytest.raises(UnknownMember):
        member_add_card(member_id=10**12, card_number="777")
    assert MemberCard.objects.filter(member=bob).count() == 0


# --- status -------------------------------------------------------------------------


def test_block_and_unblock(partner_a: Partner) -> None:
    # given an active member with points
    ann = member_enrol(email="ann@example.com")
    services.earn(member_id=ann.pk, partner_id=partner_a.pk, points=100)
    # when blocked, then they cannot spend or get a new card
    assert member_set_status(member_id=ann.pk, status="blocked").status == "blocked"
    with pytest.raises(MemberNotActive):
        services.burn(member_id=ann.pk, partner_id=partner_a.pk, points=10)
    with pytest.raises(MemberNotActive):
        member_add_card(member_id=ann.pk, card_number="123")
    # when unblocked, then they can again
    assert member_set_status(member_id=ann.pk, status="active").is_active
    assert services.burn(member_id=ann.pk, partner_id=partner_a.pk, points=10).balance_after == 90
    # and erasure is not a status one can set here; unknown members are refused
    with pytest.raises(InvalidMemberData):
        member_set_status(member_id=ann.pk, status="erased")
    with pytest.raises(UnknownMember):
        member_set_status(member_id=10**12, status="blocked")


# --- erasure ------------------------------------------------------------------------


def test_erasure_pseudonymises_the_member_and_keeps_the_ledger(
    partner_a: Partner, partner_b: Partner
) -> None:
    # given ann, with a phone, a card, consents, an enrolment key and ledger history
    key = IdempotencyKey("partner:alpha", "signup-ann")
    ann = member_enrol(
        email="Ann.Private@example.com",
        phone="+15550001111",
        marketing_email_consent=True,
        idempotency=key,
    )
    bob = member_enrol(email="bob@example.com")
    member_add_card(member_id=ann.pk, card_number="6009999")
    services.earn(member_id=ann.pk, partner_id=partner_a.pk, points=500)
    services.burn(member_id=ann.pk, partner_id=partner_b.pk, points=120)
    services.transfer(from_member_id=ann.pk, to_member_id=bob.pk, points=30)
    transactions = fetchall(
        "SELECT id, kind, points FROM public.ledger_transaction WHERE member_id = %s ORDER BY id",
        [ann.pk],
    )
    entries = scalar(
        """
        SELECT count(*) FROM public.ledger_entry e
          JOIN public.ledger_account a ON a.id = e.account_id WHERE a.member_id = %s
        """,
        [ann.pk],
    )
    number = ann.member_number

    # when she is erased
    erased = member_erase(member_id=ann.pk)

    # then nothing identifies her any more: e-mail, phone, cards, consents, and
    # the enrolment key and its hash (a hash of her address) are gone
    erased.refresh_from_db()
    assert erased.status == MemberStatus.ERASED
    assert erased.erased_at is not None
    assert "private" not in erased.email.lower()
    assert erased.email.endswith(".invalid")
    assert erased.phone is None
    assert not erased.marketing_email_consent
    assert MemberCard.objects.filter(member=erased).count() == 0
    assert member_by_card("6009999") is None
    assert member_by_email("Ann.Private@example.com") is None
    assert (erased.enrol_scope, erased.enrol_key) == (None, None)
    assert erased.enrol_request_hash == ""
    # (that hash would confirm a guessed address: it covers the e-mail and phone)
    digest = request_hash("enrol", {"email": "ann.private@example.com", "phone": "+15550001111"})
    for value in vars(erased).values():
        assert "ann.private" not in str(value).lower()
        assert "+15550001111" not in str(value)
        assert digest not in str(value)
    # while her number, her journal, her balance and her lots stay as they were
    assert erased.member_number == number
    assert (
        fetchall(
            "SELECT id, kind, points FROM public.ledger_transaction WHERE member_id = %s "
            "ORDER BY id",
            [ann.pk],
        )
        == transactions
    )
    assert (
        scalar(
            """
            SELECT count(*) FROM public.ledger_entry e
              JOIN public.ledger_account a ON a.id = e.account_id WHERE a.member_id = %s
            """,
            [ann.pk],
        )
        == entries
    )
    assert selectors.balance(ann.pk) == 350
    assert sum(lot.remaining for lot in selectors.lots(ann.pk)) == 350
    report = verify()
    assert report.ok, report.problems
    # and the wallet can no longer be used, nor the member unblocked
    with pytest.raises(MemberNotActive):
        services.burn(member_id=ann.pk, partner_id=partner_a.pk, points=1)
    with pytest.raises(MemberNotActive):
        member_set_status(member_id=ann.pk, status="active")
    # and her address is free to enrol afresh, as someone new
    again = member_enrol(email="ann.private@example.com")
    assert again.pk != ann.pk
    assert selectors.balance(again.pk) == 0
