"""Spending points: burning them at a partner, donating them to a charity, and
(in ``holds``) reserving them for a payment. All three share one spend path:
lock the member's wallet, check the balance, plan which lots the points come
from (soonest expiry first) and post wallet -> account, so every spent point
stays traceable to the partner that issued it."""

from __future__ import annotations

from typing import Any

from coalition.ledger.errors import InsufficientPoints
from coalition.ledger.models import AccountKind, TransactionKind
from coalition.ledger.services.accounts import partner_account_id, require_active_partner
from coalition.ledger.services.posting import (
    LotTake,
    Posting,
    Wallet,
    adjust_wallets,
    consumption_result,
    insert_entries,
    insert_header,
    lock_wallets,
    move_lots,
    plan_consumption,
    require_positive,
    run_idempotent,
)
from loyalty_kernel.idempotency import IdempotencyKey


def spendable(
    member_id: int, points: int, *, partner_id: int | None = None
) -> tuple[Wallet, list[LotTake]]:
    """Lock an active member's wallet, check the partner (if any) and the balance,
    and plan which lots the points come from (soonest expiry first)."""
    wallet = lock_wallets([member_id], require_active=True)[member_id]
    if partner_id is not None:
        require_active_partner(partner_id)
    if wallet.balance < points:
        raise InsufficientPoints(f"the member has {wallet.balance} points, {points} needed")
    return wallet, plan_consumption(member_id, points)


def spend_post(
    *,
    kind: str,
    wallet: Wallet,
    plan: list[LotTake],
    points: int,
    to_account: int,
    idem: IdempotencyKey | None,
    digest: str,
    result: dict[str, Any],
    partner_id: int | None = None,
    external_ref: str = "",
    memo: str = "",
    hold_id: int | None = None,
) -> Posting:
    """Post a planned spend: the header, the lots give up their points, the wallet
    pays the account."""
    tx_id, _ = insert_header(
        kind=kind,
        partner_id=partner_id,
        member_id=wallet.member_id,
        points=points,
        idem=idem,
        digest=digest,
        result=result,
        external_ref=external_ref,
        memo=memo,
        hold_id=hold_id,
    )
    move_lots(tx_id, [(lot, -taken) for lot, taken, _ in plan])
    insert_entries(tx_id, [(wallet.account_id, -points), (to_account, points)])
    adjust_wallets({wallet.account_id: -points})
    return Posting(tx_id, kind, points, result)


def burn(
    *,
    member_id: int,
    partner_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    external_ref: str = "",
    memo: str = "",
) -> Posting:
    """Spend points at a partner: lots are consumed soonest-expiry first."""
    require_positive(points)
    payload = {
        "member": member_id,
        "partner": partner_id,
        "points": points,
        "external_ref": external_ref,
    }

    def post(digest: str) -> Posting:
        redemption = partner_account_id(partner_id, AccountKind.REDEMPTION)
        wallet, plan = spendable(member_id, points, partner_id=partner_id)
        return spend_post(
            kind=TransactionKind.BURN,
            wallet=wallet,
            plan=plan,
            points=points,
            to_account=redemption,
            idem=idempotency,
            digest=digest,
            result={
                "balance_after": wallet.balance - points,
                "consumed": consumption_result(plan),
            },
            partner_id=partner_id,
            external_ref=external_ref,
            memo=memo,
        )

    return run_idempotent(idempotency, "burn", payload, post)


def donate(
    *,
    member_id: int,
    charity_account_id: int,
    points: int,
    idempotency: IdempotencyKey | None = None,
    memo: str = "",
) -> Posting:
    """Give points to a charity's account; lots are consumed soonest-expiry first,
    so each donated point stays traceable to its issuer."""
    require_positive(points)
    payload = {"member": member_id, "charity_account": charity_account_id, "points": points}

    def post(digest: str) -> Posting:
        wallet, plan = spendable(member_id, points)
        return spend_post(
            kind=TransactionKind.DONATION,
            wallet=wallet,
            plan=plan,
            points=points,
            to_account=charity_account_id,
            idem=idempotency,
            digest=digest,
            result={
                "balance_after": wallet.balance - points,
                "charity_account": charity_account_id,
                "consumed": consumption_result(plan),
            },
            memo=memo,
        )

    return run_idempotent(idempotency, "donate", payload, post)
