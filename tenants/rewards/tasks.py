"""Rewards' background jobs. The voucher e-mail is idempotent (the outbox), so it
acknowledges late."""

from __future__ import annotations

from celery import shared_task

from tenants.rewards.notices import voucher_notice_send


@shared_task(name="rewards.send_voucher_notice", acks_late=True)
def send_voucher_notice(partner_id: int, voucher_id: int) -> bool:
    return voucher_notice_send(partner_id=partner_id, voucher_id=voucher_id)
