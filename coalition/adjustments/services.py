"""Points adjustments: a partner adds points to a member's wallet (goodwill, or a
correction of points it forgot) or takes points back (a correction), with a
reason, within a daily cap per partner.

The cap counts the absolute points of the partner's adjustments on its local day
(``selectors.daily_cap``). The check and the posting run in one transaction
under a transaction-scoped advisory lock on the partner, so two concurrent
adjustments cannot both pass the cap; the ledger posts the points
(``coalition.ledger.services.adjust``: a credit like an earn, a debit like a
return, taking back only points the partner itself issued), and the adjustment
and an audit entry are recorded in the same transaction, with the
``points_adjusted`` webhook event (delivered after commit). The same idempotency
key with the same request replays the adjustment; with another request it is
``IdempotencyKeyReused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from coalition.adjustments.errors import (
    AdjustmentCapReached,
    AdjustmentExceedsBalance,
    AdjustmentPointsInvalid,
    AdjustmentReasonMissing,
    AdjustmentReasonTooLong,
)
from coalition.adjustments.models import Adjustment
from coalition.adjustments.selectors import adjusted_on, daily_cap, local_day
from coalition.audit.services import audit_record
from coalition.expiry.services import lot_expiry_for
from coalition.ledger import selectors as ledger_selectors
from coalition.ledger import services as ledger
from coalition.ledger.errors import InsufficientPoints
from coalition.members.models import Member
from coalition.webhooks import services as webhooks
from loyalty_kernel import clock
from loyalty_kernel.idempotency import IdempotencyKey, check_replay, request_hash
from tenants.partners.models import Partner

ADJUSTMENT_LOCK_NAMESPACE = 7_310_003
MAX_REASON_LENGTH = 200
MAX_POINTS = 10_000_000


@dataclass(frozen=True)
class AdjustmentResult:
    adjustment: Adjustment
    replayed: bool = False


def _actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    label = getattr(actor, "email", "") or getattr(actor, "username", "")
    return str(label or actor)[:254]


def adjust_points(
    *,
    partner: Partner,
    member: Member,
    points: int,
    reason: str,
    actor: Any,
    idempotency: IdempotencyKey | None,
    now: datetime | None = None,
) -> AdjustmentResult:
    """Add ``points`` (> 0) to the member's wallet or take ``-points`` (< 0) back,
    paid for by ``partner`` and settled like its issuance."""
    reason = (reason or "").strip()
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise AdjustmentPointsInvalid(_("Enter a number of points other than 0"))
    if abs(points) > MAX_POINTS:
        raise AdjustmentPointsInvalid(
            _("Adjust at most %(max)s points at a time") % {"max": f"{MAX_POINTS:,}"}
        )
    if not reason:
        raise AdjustmentReasonMissing(_("Enter the reason for this adjustment"))
    if len(reason) > MAX_REASON_LENGTH:
        raise AdjustmentReasonTooLong(
            _("Keep the reason to %(max)s characters") % {"max": MAX_REASON_LENGTH}
        )
    now = now or clock.now()
    digest = request_hash(
        "adjust_points",
        {"partner": partner.pk, "member": member.pk, "points": points, "reason": reason},
    )

    def attempt() -> AdjustmentResult:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [ADJUSTMENT_LOCK_NAMESPACE, partner.pk]
                )
            if idempotency is not None:
                done = Adjustment.objects.filter(
                    idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
                ).first()
                if done is not None:
                    check_replay(done.request_hash, digest, idempotency, "adjustment")
                    return AdjustmentResult(done, replayed=True)
            day = local_day(partner, now)
            cap, used = daily_cap(), adjusted_on(partner.pk, day)
            if used + abs(points) > cap:
                raise AdjustmentCapReached(
                    _(
                        "This would pass your daily limit of %(cap)s adjusted points: "
                        "%(left)s are left today"
                    )
                    % {"cap": f"{cap:,}", "left": f"{max(cap - used, 0):,}"}
                )
            try:
                posting = ledger.adjust(
                    member_id=member.pk,
                    partner_id=partner.pk,
                    points=points,
                    idempotency=idempotency,
                    expires_at=lot_expiry_for(member.pk, now) if points > 0 else None,
                    memo=reason,
                    now=now,
                )
            except InsufficientPoints as error:
                # A partner takes back only what it issued: another partner's points
                # would be credited at this partner's price and their issuer never paid.
                held = ledger_selectors.points_issued_by(member.pk, partner.pk)
                raise AdjustmentExceedsBalance(
                    _(
                        "The member holds %(held)s points your business issued: "
                        "take back at most those"
                    )
                    % {"held": f"{held:,}"}
                ) from error
            record = Adjustment.objects.create(
                partner=partner,
                member=member,
                points=points,
                reason=reason,
                actor_label=_actor_label(actor),
                local_day=day,
                ledger_transaction_id=posting.transaction_id,
                balance_after=posting.balance_after,
                idempotency_scope=idempotency.scope if idempotency else None,
                idempotency_key=idempotency.key if idempotency else None,
                request_hash=digest,
            )
            audit_record(
                actor=actor,
                partner_id=partner.pk,
                action="points.adjust",
                target=("member", member.member_number),
                after={
                    "points": points,
                    "reason": reason,
                    "transaction": posting.transaction_id,
                    "balance_after": posting.balance_after,
                },
            )
            # Sent once this commits; a replay above sends nothing again.
            webhooks.emit(partner.pk, "points_adjusted", {
                "member_number": member.member_number, "points": points, "reason": reason,
                "balance_after": posting.balance_after, "transaction_id": posting.transaction_id,
            })  # fmt: skip
            return AdjustmentResult(record)

    return ledger.retrying(attempt, nested=connection.in_atomic_block)
