"""Paying statements through Stripe, and checking Stripe against our books.

Rules: Stripe is never called inside a database transaction (a slow or failed
call must not hold locks or roll back our records), and every call that creates
something carries an idempotency key derived from the statement, so a retry, a
crashed worker or a second run can never pay or invoice twice: Stripe answers the
repeat with the object it created the first time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction

from coalition.settlement.errors import PartnerNotOnboarded, StripeNotConfigured
from coalition.settlement.models import PaymentStatus, Statement
from tenants.partners.models import Partner

logger = logging.getLogger(__name__)


def client() -> stripe.StripeClient:
    if not settings.STRIPE_API_KEY:
        raise StripeNotConfigured("set STRIPE_API_KEY to pay statements through Stripe")
    base: Any = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses=base, max_network_retries=2)


# --- Connect onboarding ---------------------------------------------------------------


def connect_onboarding_link(*, partner: Partner, refresh_url: str, return_url: str) -> str:
    """Create the partner's connected account once, and an onboarding link to it."""
    api = client()
    if not partner.stripe_account_id:
        account_params: Any = {"type": "express", "metadata": {"partner": partner.slug}}
        if partner.contact_email:
            account_params["email"] = partner.contact_email
        account = api.v1.accounts.create(
            params=account_params,
            options={"idempotency_key": f"loyalty-partner-{partner.pk}-account"},
        )
        Partner.objects.filter(pk=partner.pk, stripe_account_id="").update(
            stripe_account_id=account.id
        )
        partner.refresh_from_db(fields=["stripe_account_id"])
    link = api.v1.account_links.create(
        params={
            "account": partner.stripe_account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
    )
    return str(link.url)


def _customer_for(api: stripe.StripeClient, partner: Partner) -> str:
    if partner.stripe_customer_id:
        return partner.stripe_customer_id
    customer_params: Any = {"name": partner.name, "metadata": {"partner": partner.slug}}
    if partner.contact_email:
        customer_params["email"] = partner.contact_email
    customer = api.v1.customers.create(
        params=customer_params,
        options={"idempotency_key": f"loyalty-partner-{partner.pk}-customer"},
    )
    Partner.objects.filter(pk=partner.pk, stripe_customer_id="").update(
        stripe_customer_id=customer.id
    )
    partner.refresh_from_db(fields=["stripe_customer_id"])
    return partner.stripe_customer_id


# --- paying statements ----------------------------------------------------------------


def _record(statement_id: int, object_id: str, status: str) -> None:
    """Remember what Stripe created for a statement (its own short transaction)."""
    with transaction.atomic():
        Statement.objects.filter(pk=statement_id, stripe_object_id="").update(
            stripe_object_id=object_id, payment_status=status
        )


def pay_out_statement(statement_id: int) -> str | None:
    """Transfer to a net receiver or invoice a net payer; return the Stripe object id.

    Safe to repeat: a recorded statement is skipped, and an unrecorded one (a
    worker died after calling Stripe) repeats the call with the same idempotency
    keys, which makes Stripe return the object it already created.
    """
    statement = Statement.objects.select_related("partner", "period").get(pk=statement_id)
    if statement.stripe_object_id or statement.net_amount == 0:
        return statement.stripe_object_id or None
    api = client()
    partner = statement.partner
    metadata = {"statement": str(statement.pk), "period": str(statement.period.number)}
    base = statement.idempotency_base
    if statement.net_amount < 0:
        if not partner.stripe_account_id:
            raise PartnerNotOnboarded(f"{partner.name} has no connected Stripe account yet")
        created = api.v1.transfers.create(
            params={
                "amount": -statement.net_amount,
                "currency": statement.currency.lower(),
                "destination": partner.stripe_account_id,
                "transfer_group": f"period-{statement.period.number}",
                "description": f"{settings.LOYALTY_COALITION_NAME} settlement "
                f"period {statement.period.number}",
                "metadata": metadata,
            },
            options={"idempotency_key": f"{base}-transfer"},
        )
        _record(statement.pk, created.id, PaymentStatus.TRANSFER_SENT)
        return str(created.id)
    customer = _customer_for(api, partner)
    # The draft invoice first, then the item on it: Stripe leaves a customer's
    # pending items out of a new invoice unless told otherwise, and an item bound
    # to its invoice can never end up on another statement's invoice.
    invoice = api.v1.invoices.create(
        params={
            "customer": customer,
            "currency": statement.currency.lower(),
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "metadata": metadata,
        },
        options={"idempotency_key": f"{base}-invoice"},
    )
    api.v1.invoice_items.create(
        params={
            "customer": customer,
            "invoice": invoice.id,
            "amount": statement.net_amount,
            "currency": statement.currency.lower(),
            "description": f"Points settlement, period {statement.period.number}",
            "metadata": metadata,
        },
        options={"idempotency_key": f"{base}-item"},
    )
    api.v1.invoices.finalize_invoice(invoice.id, options={"idempotency_key": f"{base}-finalize"})
    _record(statement.pk, invoice.id, PaymentStatus.INVOICED)
    return str(invoice.id)


def pay_out_period(period_id: int) -> int:
    """Pay every statement of a closed period that is not paid yet."""
    done = 0
    statements = Statement.objects.filter(
        period_id=period_id, payment_status=PaymentStatus.PENDING
    ).values_list("pk", flat=True)
    for statement_id in list(statements):
        try:
            if pay_out_statement(statement_id):
                done += 1
        except PartnerNotOnboarded as exc:
            logger.warning("statement %s not paid: %s", statement_id, exc.message)
    return done


# --- reconciliation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    statement_id: int | None
    stripe_object_id: str | None
    problem: str


def _listed(resource: Any) -> list[dict[str, Any]]:
    return [obj.to_dict() for obj in resource.list(params={"limit": 100}).auto_paging_iter()]


def reconcile() -> list[Difference]:
    """Compare Stripe's transfers and invoices with the statements they pay."""
    api = client()
    found: dict[str, dict[str, Any]] = {}
    for obj in _listed(api.v1.transfers) + _listed(api.v1.invoices):
        metadata = obj.get("metadata") or {}
        if "statement" in metadata:
            found[obj["id"]] = obj
    differences: list[Difference] = []
    recorded = Statement.objects.exclude(stripe_object_id="")
    seen: set[str] = set()
    for statement in recorded:
        listed = found.get(statement.stripe_object_id)
        seen.add(statement.stripe_object_id)
        if listed is None:
            differences.append(
                Difference(statement.pk, statement.stripe_object_id, "missing at Stripe")
            )
            continue
        obj = listed
        amount = int(obj.get("amount") or obj.get("amount_due") or 0)
        if amount != abs(statement.net_amount):
            differences.append(
                Difference(
                    statement.pk,
                    obj["id"],
                    f"amount {amount} at Stripe, {abs(statement.net_amount)} on the statement",
                )
            )
        if str(obj.get("currency", "")).upper() != statement.currency:
            differences.append(Difference(statement.pk, obj["id"], "currency differs"))
    for object_id, obj in found.items():
        if object_id not in seen:
            differences.append(
                Difference(
                    int(obj["metadata"]["statement"]),
                    object_id,
                    "created at Stripe but not recorded on the statement",
                )
            )
    for difference in differences:
        logger.warning("reconciliation: %s", difference)
    return differences
