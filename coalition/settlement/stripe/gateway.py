"""Paying statements through Stripe, and checking Stripe against our books.

Rules: Stripe is never called inside a database transaction (a slow or failed
call must not hold locks or roll back our records), and every call that creates
something carries an idempotency key derived from the statement, so a retry, a
crashed worker or a second run can never pay or invoice twice: Stripe answers the
repeat with the object it created the first time.

Each statement is its own payout: a partner that is owed money gets a Connect
transfer, a partner that owes gets an invoice, a charity gets a transfer for the
points donated to it. A payout Stripe refuses is recorded on its statement
(``payout_error``, Stripe's code and message, the attempt count) and retried by
the ``settlement.retry_payouts`` job with exponential backoff; it never stops
the period's other payouts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from coalition.charity.models import Charity
from coalition.settlement.errors import (
    CharityNotOnboarded,
    PartnerNotOnboarded,
    PayoutRefused,
    StripeNotConfigured,
)
from coalition.settlement.models import PAYABLE_STATUSES, PaymentStatus, Statement
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
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
    account_params: Any = {"type": "express", "metadata": {"partner": partner.slug}}
    if partner.contact_email:
        account_params["email"] = partner.contact_email
    return _onboarding_link(
        partner, "partner", account_params, refresh_url=refresh_url, return_url=return_url
    )


def charity_connect_onboarding_link(*, charity: Charity, refresh_url: str, return_url: str) -> str:
    """Create the charity's connected account once, and an onboarding link to it:
    the charity is paid for its donations by transfer, like a partner."""
    account_params: Any = {"type": "express", "metadata": {"charity": charity.slug}}
    return _onboarding_link(
        charity, "charity", account_params, refresh_url=refresh_url, return_url=return_url
    )


def _onboarding_link(
    payee: Partner | Charity,
    kind: str,
    account_params: Any,
    *,
    refresh_url: str,
    return_url: str,
) -> str:
    """The payee's connected account, created once (its idempotency key names the
    payee, and only an empty id is overwritten, so two clicks make one account),
    and a fresh onboarding link to it."""
    api = client()
    if not payee.stripe_account_id:
        account = api.v1.accounts.create(
            params=account_params,
            options={"idempotency_key": f"loyalty-{kind}-{payee.pk}-account"},
        )
        type(payee).objects.filter(pk=payee.pk, stripe_account_id="").update(
            stripe_account_id=account.id
        )
        payee.refresh_from_db(fields=["stripe_account_id"])
    link = api.v1.account_links.create(
        params={
            "account": payee.stripe_account_id,
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


# Attempts, then the job gives up (the statement stays ``payout_error`` until an
# operator runs ``loyalty pay-out PERIOD``); waits double from a minute, at most
# six hours: about 24 hours of trying in all.
MAX_PAYOUT_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th refused attempt."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _record(statement_id: int, object_id: str, status: str) -> None:
    """Remember what Stripe created for a statement (its own short transaction)."""
    with transaction.atomic():
        Statement.objects.filter(pk=statement_id, stripe_object_id="").update(
            stripe_object_id=object_id,
            payment_status=status,
            payout_error_code="",
            payout_error_message="",
            payout_retry_at=None,
        )


def _record_refusal(statement_id: int, error: stripe.StripeError, now: datetime) -> Statement:
    """Stripe refused the payout: keep its code and message, and when to try again."""
    with transaction.atomic():
        statement = Statement.objects.select_for_update().get(pk=statement_id)
        if statement.stripe_object_id:
            return statement  # a twin paid it meanwhile
        statement.payout_attempts += 1
        status = error.http_status or 0
        if 400 <= status < 500:
            statement.payout_key_round += 1
        statement.payment_status = PaymentStatus.PAYOUT_ERROR
        statement.payout_error_code = str(error.code or type(error).__name__)[:80]
        statement.payout_error_message = str(error.user_message or error)[:500]
        statement.payout_retry_at = (
            now + retry_delay(statement.payout_attempts)
            if statement.payout_attempts < MAX_PAYOUT_ATTEMPTS
            else None
        )
        statement.save(
            update_fields=[
                "payout_attempts", "payout_key_round", "payment_status",
                "payout_error_code", "payout_error_message", "payout_retry_at",
            ]
        )  # fmt: skip
        return statement


def _transfer(api: stripe.StripeClient, statement: Statement, destination: str) -> str:
    metadata = {"statement": str(statement.pk), "period": str(statement.period.number)}
    created = api.v1.transfers.create(
        params={
            "amount": -statement.net_amount,
            "currency": statement.currency.lower(),
            "destination": destination,
            "transfer_group": f"period-{statement.period.number}",
            "description": f"{settings.LOYALTY_COALITION_NAME} settlement "
            f"period {statement.period.number}",
            "metadata": metadata,
        },
        options={"idempotency_key": statement.payout_key("transfer")},
    )
    _record(statement.pk, created.id, PaymentStatus.TRANSFER_SENT)
    return str(created.id)


def _invoice(api: stripe.StripeClient, statement: Statement, partner: Partner) -> str:
    metadata = {"statement": str(statement.pk), "period": str(statement.period.number)}
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
        options={"idempotency_key": statement.payout_key("invoice")},
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
        options={"idempotency_key": statement.payout_key("item")},
    )
    api.v1.invoices.finalize_invoice(
        invoice.id, options={"idempotency_key": statement.payout_key("finalize")}
    )
    _record(statement.pk, invoice.id, PaymentStatus.INVOICED)
    return str(invoice.id)


def pay_out_statement(statement_id: int) -> str | None:
    """Transfer to a net receiver (a partner or a charity) or invoice a net payer;
    return the Stripe object id.

    Safe to repeat: a recorded statement is skipped, and an unrecorded one (a
    worker died after calling Stripe) repeats the call with the same idempotency
    keys, which makes Stripe return the object it already created. A refusal by
    Stripe raises ``stripe.StripeError`` (``pay_out_period`` records it)."""
    statement = Statement.objects.select_related("partner", "charity", "period").get(
        pk=statement_id
    )
    if statement.stripe_object_id or statement.net_amount == 0:
        return statement.stripe_object_id or None
    api = client()
    partner, charity = statement.partner, statement.charity
    if charity is not None:
        if not charity.stripe_account_id:
            raise CharityNotOnboarded(f"{charity.name} has no connected Stripe account yet")
        return _transfer(api, statement, charity.stripe_account_id)
    if partner is None:  # a statement is a partner's or a charity's (a CHECK says so)
        raise ValueError(f"statement {statement.pk} has neither partner nor charity")
    if statement.net_amount < 0:
        if not partner.stripe_account_id:
            raise PartnerNotOnboarded(f"{partner.name} has no connected Stripe account yet")
        return _transfer(api, statement, partner.stripe_account_id)
    return _invoice(api, statement, partner)


@dataclass(frozen=True)
class PayoutOutcome:
    """What one statement's payout came to, in a payout run."""

    statement_id: int
    status: str  # the statement's payment status afterwards
    stripe_object_id: str = ""
    error: DomainError | None = None  # refused by Stripe, or not onboarded
    retry_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return isinstance(self.error, PayoutRefused)


@dataclass(frozen=True)
class PayoutRun:
    outcomes: list[PayoutOutcome]

    @property
    def paid(self) -> int:
        """Statements paid (transferred or invoiced) by this run."""
        return sum(1 for outcome in self.outcomes if outcome.stripe_object_id)

    @property
    def failed(self) -> list[PayoutOutcome]:
        return [outcome for outcome in self.outcomes if outcome.failed]


def pay_out_one(statement_id: int, now: datetime) -> PayoutOutcome:
    """Pay one statement and record what came of it (a refusal is recorded on the
    statement and returned, never raised): what runs, the retry job and the
    operator console's retry and progress share."""
    try:
        object_id = pay_out_statement(statement_id)
    except (PartnerNotOnboarded, CharityNotOnboarded) as exc:
        # Not Stripe's refusal: the statement waits, pending, for onboarding.
        logger.warning("statement %s not paid: %s", statement_id, exc.message)
        return PayoutOutcome(statement_id, PaymentStatus.PENDING, error=exc)
    except stripe.StripeError as exc:
        statement = _record_refusal(statement_id, exc, now)
        logger.warning(
            "statement %s: Stripe refused the payout (%s): %s",
            statement_id, statement.payout_error_code, statement.payout_error_message,
        )  # fmt: skip
        if statement.stripe_object_id:
            return PayoutOutcome(statement_id, statement.payment_status, statement.stripe_object_id)
        refused = PayoutRefused(
            f"Stripe refused the payout of statement {statement_id}: "
            f"{statement.payout_error_message}",
            stripe_code=statement.payout_error_code,
        )
        return PayoutOutcome(
            statement_id, statement.payment_status, error=refused,
            retry_at=statement.payout_retry_at,
        )  # fmt: skip
    status = Statement.objects.values_list("payment_status", flat=True).get(pk=statement_id)
    return PayoutOutcome(statement_id, status, object_id or "")


def pay_out_period(period_id: int, *, now: datetime | None = None) -> PayoutRun:
    """Pay every statement of a closed period that is not paid yet (pending, or
    refused before), each on its own: one refusal does not stop the others."""
    now = now or clock.now()
    client()  # no key, nothing to do: say so once rather than per statement
    statements = Statement.objects.filter(
        period_id=period_id, payment_status__in=PAYABLE_STATUSES, stripe_object_id=""
    ).exclude(net_amount=0)
    ids = list(statements.order_by("pk").values_list("pk", flat=True))
    return PayoutRun([pay_out_one(pk, now) for pk in ids])


def retry_payouts(*, now: datetime | None = None) -> PayoutRun:
    """The retry job: statements whose refused payout is due another attempt."""
    now = now or clock.now()
    due = Statement.objects.filter(
        Q(payment_status=PaymentStatus.PAYOUT_ERROR, stripe_object_id="")
        & Q(payout_retry_at__lte=now)
    )
    ids = list(due.order_by("payout_retry_at", "pk").values_list("pk", flat=True)[:100])
    return PayoutRun([pay_out_one(pk, now) for pk in ids])


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
