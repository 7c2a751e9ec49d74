"""What the till acts on, for the console's till tests: a member with points, a
reward and its voucher, the partner's published value of a point, and a points
payment authorised and waiting to be captured."""

from __future__ import annotations

import uuid
from decimal import Decimal

from coalition.ledger import services as ledger
from coalition.members.models import Member
from coalition.members.services import member_enrol
from tenants.partners.models import Partner
from tenants.rewards import services as rewards
from tenants.rewards.models import PointsPaymentSettings, Voucher
from tests.testkit import in_partner


def member_with_points(partner: Partner, points: int) -> Member:
    """A new member who earned ``points`` at ``partner``."""
    member = member_enrol(email=f"till-{uuid.uuid4().hex[:10]}@example.com")
    ledger.earn(member_id=member.pk, partner_id=partner.pk, points=points)
    return member


def voucher_of(partner: Partner, member: Member, *, name: str = "Free coffee") -> Voucher:
    """A reward of ``partner`` costing 100 points, redeemed by ``member``."""
    code = f"till-{uuid.uuid4().hex[:8]}"
    with in_partner(partner):
        rewards.reward_save(code=code, name=name, points_price=100)
        return rewards.reward_redeem(member_id=member.pk, reward_code=code)


def set_point_value(partner: Partner, value_per_point: str = "1") -> PointsPaymentSettings:
    """One point pays for ``value_per_point`` minor units of the partner's currency."""
    with in_partner(partner):
        PointsPaymentSettings.objects.all().delete()
        return PointsPaymentSettings.objects.create(
            value_per_point=Decimal(value_per_point), currency=partner.default_currency
        )


def authorised_payment(partner: Partner, member: Member, amount: int) -> rewards.PaymentView:
    with in_partner(partner):
        return rewards.points_payment_authorize(member_id=member.pk, amount=amount)
