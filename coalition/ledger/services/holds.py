"""Holds: points reserved for a payment at a partner (a till taking points),
then captured (all or part; the rest goes back), voided, or expired, exactly
once. Authorising goes down the common spend path into the coalition's holds
account; resolving gives back what is not captured to the lots it came from.

Every operation takes ``now`` (default: the application clock) for its expiry
decision, so tests move time by passing it instead of sleeping. Capture needs
an active partner (ADR 0014); void and expiry do not, so the holds of a
suspended partner still return their points to the member.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from coalition.ledger.errors import (
    CaptureExceedsHold,
    HoldAlreadyResolved,
    HoldExpired,
    InvalidExpiry,
    UnknownHold,
    WrongPartner,
)
from coalition.ledger.models import AccountKind, HoldStatus, TransactionKind
from coalition.ledger.services.accounts import (
    coalition_account_id,
    partner_account_id,
    require_active_partner,
)
from coalition.ledger.services.posting import (
    Posting,
    adjust_wallets,
    insert_entries,
    insert_header,
    lock_wallets,
    move_lots,
    net_consumed,
    one_row,
    require_positive,
    restore_plan,
    run_idempotent,
)
from coalition.ledger.services.spending import spend_post, spendable
from loyalty_kernel import clock, driver_sql
from loyalty_kernel.idempotency import IdempotencyKey

DEFAULT_HOLD_LIFE = timedelta(minutes=15)

_STATUS_AFTER = {
    str(TransactionKind.CAPTURE): HoldStatus.CAPTURED,
    str(TransactionKind.VOID): HoldStatus.VOIDED,
    str(TransactionKind.HOLD_EXPIRY): HoldStatus.EXPIRED,
}


def hold_authorize(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    expires_at: datetime | None = None,
    expires_in: timedelta | None = None,
    idempotency: IdempotencyKey | None = None,
    external_ref: str = "",
    now: datetime | None = None,
) -> Posting:
    """Reserve points for a payment at a partner. The points leave the wallet (and
    its lots) into the holds account until the hold is captured, voided or expires."""
    require_positive(points)
    # The request hash covers what the caller sent: a retry without an expiry
    # must replay, not look like another request because the default moved on.
    payload = {
        "member": member_id,
        "partner": partner_id,
        "points": points,
        "expires_at": expires_at.isoformat() if expires_at else None,
        # A relative expiry is part of the request; the instant it yields is not,
        # so a retry of the same request replays instead of looking different.
        "expires_in": expires_in.total_seconds() if expires_in else None,
        "external_ref": external_ref,
    }
    now = now or clock.now()
    expires_at = expires_at or now + (expires_in or DEFAULT_HOLD_LIFE)
    if timezone.is_naive(expires_at) or expires_at <= now:
        raise InvalidExpiry("a hold must expire in the future (with a time zone)")
    hold_expires_at = expires_at

    def post(digest: str) -> Posting:
        holds_account = coalition_account_id(AccountKind.HOLDS)
        wallet, plan = spendable(member_id, points, partner_id=partner_id)
        hold_id = int(
            one_row(
                """
                INSERT INTO public.ledger_hold
                    (member_id, partner_id, points, captured_points, status, expires_at,
                     created_at)
                VALUES (%s, %s, %s, 0, 'pending', %s, now()) RETURNING id
                """,
                [member_id, partner_id, points, hold_expires_at],
                "hold after inserting it",
            )[0]
        )
        return spend_post(
            kind=TransactionKind.HOLD,
            wallet=wallet,
            plan=plan,
            points=points,
            to_account=holds_account,
            idem=idempotency,
            digest=digest,
            result={
                "hold": hold_id,
                "balance_after": wallet.balance - points,
                "expires_at": hold_expires_at.isoformat(),
            },
            partner_id=partner_id,
            external_ref=external_ref,
            hold_id=hold_id,
        )

    return run_idempotent(idempotency, "hold", payload, post)


def hold_capture(
    *,
    hold_id: int,
    points: int | None = None,
    partner_id: int | None = None,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
) -> Posting:
    """Capture all or part of a pending, unexpired hold at an active partner; the
    rest returns to the wallet."""
    if points is not None:
        require_positive(points)
    payload = {"hold": hold_id, "points": points, "partner": partner_id}

    def post(digest: str) -> Posting:
        capture = points
        if capture is None:
            row = driver_sql.fetchone(
                "SELECT points FROM public.ledger_hold WHERE id = %s", [hold_id]
            )
            if row is None:
                raise UnknownHold(f"no hold with id {hold_id}")
            capture = int(row[0])
        return _resolve_hold(
            hold_id=hold_id,
            kind=TransactionKind.CAPTURE,
            capture_points=capture,
            digest=digest,
            idempotency=idempotency,
            partner_id=partner_id,
            now=now,
        )

    return run_idempotent(idempotency, "capture", payload, post)


def hold_void(
    *,
    hold_id: int,
    partner_id: int | None = None,
    idempotency: IdempotencyKey | None = None,
    now: datetime | None = None,
) -> Posting:
    """Cancel a pending hold; every held point returns to the wallet's lots. A
    hold past its expiry but not yet released may be voided too (the points go
    back either way), so ``now`` does not change the outcome; it is taken like
    every hold operation takes it."""
    payload = {"hold": hold_id, "partner": partner_id}

    def post(digest: str) -> Posting:
        return _resolve_hold(
            hold_id=hold_id,
            kind=TransactionKind.VOID,
            capture_points=0,
            digest=digest,
            idempotency=idempotency,
            partner_id=partner_id,
            now=now,
        )

    return run_idempotent(idempotency, "void", payload, post)


def holds_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Release every pending hold past its expiry. Safe to run twice or concurrently:
    each hold is resolved under its member's lock, once."""
    now = now or clock.now()
    rows = driver_sql.fetchall(
        """
        SELECT id FROM public.ledger_hold
         WHERE status = 'pending' AND expires_at <= %s ORDER BY id LIMIT %s
        """,
        [now, limit],
    )
    expired = 0
    for (hold_id,) in rows:

        def post(digest: str, hold_id: int = int(hold_id)) -> Posting:
            return _resolve_hold(
                hold_id=hold_id,
                kind=TransactionKind.HOLD_EXPIRY,
                capture_points=0,
                digest=digest,
                idempotency=None,
                now=now,
            )

        try:
            run_idempotent(None, "hold_expiry", {"hold": hold_id}, post)
            expired += 1
        except HoldAlreadyResolved:
            continue  # resolved by someone else meanwhile
    return expired


def _resolve_hold(
    *,
    hold_id: int,
    kind: str,
    capture_points: int,
    digest: str,
    idempotency: IdempotencyKey | None,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> Posting:
    hold = driver_sql.fetchone("SELECT member_id FROM public.ledger_hold WHERE id = %s", [hold_id])
    if hold is None:
        raise UnknownHold(f"no hold with id {hold_id}")
    member_id = int(hold[0])
    wallet = lock_wallets([member_id], require_active=False)[member_id]
    locked = driver_sql.fetchone(
        """
        SELECT partner_id, points, status, expires_at FROM public.ledger_hold
         WHERE id = %s FOR UPDATE
        """,
        [hold_id],
    )
    if locked is None:
        raise UnknownHold(f"no hold with id {hold_id}")
    hold_partner, held, status, expires_at = int(locked[0]), int(locked[1]), locked[2], locked[3]
    if status != HoldStatus.PENDING:
        raise HoldAlreadyResolved(f"hold {hold_id} is already {status}")
    if partner_id is not None and partner_id != hold_partner:
        raise WrongPartner(f"hold {hold_id} belongs to another partner")
    now = now or clock.now()
    if kind == TransactionKind.CAPTURE:
        if expires_at <= now:
            raise HoldExpired(f"hold {hold_id} expired at {expires_at.isoformat()}")
        # A suspended (or offboarded) partner takes no more points, not even
        # those reserved before; void and expiry still give them back (ADR 0014).
        require_active_partner(hold_partner)
    if kind == TransactionKind.HOLD_EXPIRY and expires_at > now:
        raise HoldAlreadyResolved(f"hold {hold_id} has not expired yet")
    if capture_points > held:
        raise CaptureExceedsHold(f"cannot capture {capture_points} of a {held}-point hold")
    release = held - capture_points
    holds_account = coalition_account_id(AccountKind.HOLDS)
    legs = [(holds_account, -held), (wallet.account_id, release)]
    if capture_points:
        legs.append((partner_account_id(hold_partner, AccountKind.REDEMPTION), capture_points))
    authorization = one_row(
        "SELECT id FROM public.ledger_transaction WHERE hold_id = %s AND kind = 'hold'",
        [hold_id],
        f"authorisation of hold {hold_id}",
    )
    restore = restore_plan(net_consumed([int(authorization[0])]), release)
    result = {
        "hold": hold_id,
        "captured": capture_points,
        "released": release,
        "balance_after": wallet.balance + release,
    }
    tx_id, _ = insert_header(
        kind=kind,
        partner_id=hold_partner,
        member_id=member_id,
        points=held,
        idem=idempotency,
        digest=digest,
        result=result,
        hold_id=hold_id,
    )
    move_lots(tx_id, restore)
    insert_entries(tx_id, legs)
    adjust_wallets({wallet.account_id: release})
    driver_sql.execute(
        """
        UPDATE public.ledger_hold SET status = %s, captured_points = %s, resolved_at = now()
         WHERE id = %s AND status = 'pending'
        """,
        [_STATUS_AFTER[kind], capture_points, hold_id],
    )
    return Posting(tx_id, kind, held, result)
