"""Settlement terms, periods, statements, netting and Stripe events (public schema).

Money is integer minor units of the statement's currency; prices per point are
decimals of minor units (1.5 = one and a half cents per point).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.db import models


class SettlementTerms(models.Model):
    """A partner's terms from ``effective_from`` on: every event is valued at the
    terms in force when it was posted."""

    # Indexed by ``terms_once_per_instant`` (partner, effective from), which serves
    # lookups by partner alone too: no index of its own.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    effective_from = models.DateTimeField()
    currency = models.CharField(max_length=3)
    issuance_price = models.DecimalField(max_digits=14, decimal_places=6)  # per point issued
    reimbursement_rate = models.DecimalField(max_digits=14, decimal_places=6)  # per point honoured
    fee_percent = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal(0))
    # Per calendar month (UTC), billed once whatever the closing frequency: the
    # fee of the terms in force at the month's last instant.
    fee_fixed = models.BigIntegerField(default=0)
    breakage_share_percent = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["partner", "-effective_from"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["partner", "effective_from"], name="terms_once_per_instant"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    issuance_price__gte=0, reimbursement_rate__gte=0, fee_fixed__gte=0
                ),
                name="terms_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_percent__gte=0, fee_percent__lte=100)
                & models.Q(breakage_share_percent__gte=0, breakage_share_percent__lte=100),
                name="terms_percentages",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} from {self.effective_from:%Y-%m-%d}"


class PeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSING = "closing", "Closing"
    CLOSED = "closed", "Closed"


class SettlementPeriod(models.Model):
    """Journal transactions with start_watermark < id <= end_watermark. The end is
    fixed once, under the journal's SHARE lock, so every transaction lands in
    exactly one period whatever its timestamp."""

    number = models.PositiveIntegerField(unique=True)
    start_watermark = models.BigIntegerField()
    end_watermark = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=PeriodStatus.choices, default=PeriodStatus.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Per currency: what the coalition keeps (issuance - reimbursements + fees - breakage shares).
    coalition_margin = models.JSONField(default=dict, blank=True)
    # Who asked for the close, so a retried request returns this period.
    close_scope = models.CharField(max_length=80, null=True, blank=True)
    close_key = models.CharField(max_length=120, null=True, blank=True)
    # A close before the calendar says the period is due is forced, with a reason.
    closed_early = models.BooleanField(default=False)
    close_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering: ClassVar = ["-number"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="open"), name="one_open_period"
            ),
            models.UniqueConstraint(fields=["close_scope", "close_key"], name="period_close_once"),
            models.CheckConstraint(
                condition=models.Q(end_watermark__isnull=True)
                | models.Q(end_watermark__gte=models.F("start_watermark")),
                name="period_watermarks_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"period {self.number}"


class PaymentStatus(models.TextChoices):
    NOTHING_DUE = "nothing_due", "Nothing due"
    PENDING = "pending", "Pending"
    INVOICED = "invoiced", "Invoiced"
    TRANSFER_SENT = "transfer_sent", "Transfer sent"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    REVERSED = "reversed", "Reversed"
    # Our call to Stripe was refused (error code and message on the statement);
    # the payout job tries again with backoff. ``failed`` is Stripe's own word,
    # from its webhooks, for an invoice the partner did not pay.
    PAYOUT_ERROR = "payout_error", "Payout refused by Stripe"


# Statuses whose payout has not reached Stripe yet: what a payout run picks up.
PAYABLE_STATUSES = (PaymentStatus.PENDING, PaymentStatus.PAYOUT_ERROR)


class Statement(models.Model):
    """What one partner owes (net > 0) or is owed (net < 0) for one period; or what
    the coalition owes one charity for the points donated to it (net <= 0).

    Each statement is its own payout: one Stripe transfer or invoice, with its own
    state, attempts and last Stripe error, so one refusal holds up no other."""

    # Indexed by ``statement_once`` (period, partner) and ``charity_statement_once``
    # (period, charity), which serve lookups by period alone too: no index of its own.
    period = models.ForeignKey(
        SettlementPeriod, on_delete=models.PROTECT, related_name="statements", db_index=False
    )
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    charity = models.ForeignKey(
        "charity.Charity", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3)
    net_amount = models.BigIntegerField()
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    stripe_object_id = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payout_attempts = models.PositiveIntegerField(default=0)
    # Stripe keeps the answer of an idempotent request, errors too: after a
    # definitive refusal (4xx: nothing was created) the next attempt needs a new
    # key, still derived from the statement; a network error or 5xx keeps the key,
    # since the object may exist.
    payout_key_round = models.PositiveIntegerField(default=0)
    payout_error_code = models.CharField(max_length=80, blank=True)
    payout_error_message = models.CharField(max_length=500, blank=True)
    # When the payout job tries again; none once it has given up (or nothing failed).
    payout_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["period", "partner"], name="statement_once"),
            models.UniqueConstraint(fields=["period", "charity"], name="charity_statement_once"),
            models.CheckConstraint(
                condition=models.Q(partner__isnull=False, charity__isnull=True)
                | models.Q(partner__isnull=True, charity__isnull=False),
                name="statement_partner_or_charity",
            ),
            models.CheckConstraint(
                condition=models.Q(charity__isnull=True) | models.Q(net_amount__lte=0),
                name="charity_statement_is_paid_to_it",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["payout_retry_at"],
                condition=models.Q(payout_retry_at__isnull=False),
                name="statement_payout_retry",
            )
        ]

    def __str__(self) -> str:
        who = f"partner {self.partner_id}" if self.partner_id else f"charity {self.charity_id}"
        return f"{who} in {self.period_id}: {self.net_amount} {self.currency}"

    @property
    def idempotency_base(self) -> str:
        """Stripe idempotency keys derive from this: retries never pay twice."""
        return f"loyalty-statement-{self.pk}"

    def payout_key(self, call: str) -> str:
        """The idempotency key of one payout call (``transfer``, ``invoice``, ...)."""
        suffix = f"-{self.payout_key_round}" if self.payout_key_round else ""
        return f"{self.idempotency_base}-{call}{suffix}"


class LineKind(models.TextChoices):
    ISSUED = "issued", "Points issued"
    ISSUED_REVERSAL = "issued_reversal", "Issued points reversed (returns)"
    REDEEMED = "redeemed", "Points redeemed here"
    REDEEMED_REVERSAL = "redeemed_reversal", "Redemptions reversed"
    BREAKAGE_SHARE = "breakage_share", "Share of breakage"
    FEE_PERCENT = "fee_percent", "Percentage fee"
    FEE_FIXED = "fee_fixed", "Fixed fee"
    DONATED = "donated", "Points donated (charity)"


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    description = models.CharField(max_length=200)
    terms = models.ForeignKey(
        SettlementTerms, null=True, on_delete=models.PROTECT, related_name="+"
    )
    transactions = models.PositiveIntegerField(default=0)
    points = models.BigIntegerField(default=0)
    rate = models.DecimalField(max_digits=14, decimal_places=6, null=True)
    amount = models.BigIntegerField()  # signed: positive, the partner owes it
    first_transaction_id = models.BigIntegerField(null=True)
    last_transaction_id = models.BigIntegerField(null=True)
    # What selects the line's journal transactions: the group ``compute_statements``
    # made it from. Several lines share a kind (burns and captured holds are both
    # "redeemed"; returns of this period and of earlier ones are both "reversed"), so
    # the kind alone cannot say which transactions are behind a line. Empty on lines
    # with no transactions (fees).
    account_kind = models.CharField(max_length=12, blank=True)  # the partner's account
    transaction_kind = models.CharField(max_length=20, blank=True)
    earlier_periods = models.BooleanField(default=False)  # reversals of earlier periods

    class Meta:
        ordering: ClassVar = ["id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.amount}"


class FixedFeeCharge(models.Model):
    """One partner's fixed fee for one calendar month, billed once: the unique
    pair is what stops a second close of the month from billing it again."""

    # Indexed by ``fixed_fee_once_a_month`` (partner, month), which serves lookups by
    # partner alone too: no index of its own.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    month = models.DateField()  # its first day (UTC)
    line = models.OneToOneField(StatementLine, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["partner", "month"], name="fixed_fee_once_a_month"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.month:%Y-%m}"


class BilateralObligation(models.Model):
    """Issuer owes redeemer for the issuer's points honoured at the redeemer."""

    period = models.ForeignKey(
        SettlementPeriod, on_delete=models.CASCADE, related_name="obligations"
    )
    currency = models.CharField(max_length=3)
    debtor = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    creditor = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    amount = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.debtor_id}->{self.creditor_id}: {self.amount}"


class NettedTransfer(models.Model):
    """The fewest money movements that settle the period's bilateral obligations."""

    period = models.ForeignKey(SettlementPeriod, on_delete=models.CASCADE, related_name="netted")
    currency = models.CharField(max_length=3)
    payer = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="netted_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payer_id}->{self.payee_id}: {self.amount}"


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class StripeEvent(models.Model):
    """Each verified Stripe webhook event, stored once (unique id), processed once."""

    event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED
    )
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} {self.status}"


class PayoutJobKind(models.TextChoices):
    RETRY = "retry", "Retry of one refused payout"
    PERIOD = "period", "Pay out a period"
    RECONCILE = "reconcile", "Reconciliation with Stripe"


class PayoutJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class PayoutJob(models.Model):
    """One operator's request to pay (a statement again, or a closed period) or to
    reconcile with Stripe, and what came of it. Stored under the form's
    idempotency key, so a second press of the same button finds the first
    request instead of making another; its counts move as the job runs, which is
    what the console's progress shows."""

    kind = models.CharField(max_length=10, choices=PayoutJobKind.choices)
    period = models.ForeignKey(
        SettlementPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    statement = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=PayoutJobStatus.choices, default=PayoutJobStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0)  # statements to pay
    done = models.PositiveIntegerField(default=0)  # statements tried so far
    paid = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # A retry: the statement's status, Stripe object and error afterwards; a
    # reconciliation: its differences.
    result = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=80, blank=True)  # the job itself failed
    error_message = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_scope = models.CharField(max_length=80)
    idempotency_key = models.CharField(max_length=120)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="payout_job_once"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="retry", statement__isnull=False)
                | models.Q(kind="period", period__isnull=False)
                | models.Q(kind="reconcile"),
                name="payout_job_names_its_object",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk}: {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (PayoutJobStatus.DONE, PayoutJobStatus.FAILED)


class FinanceMonthFlow(models.Model):
    """The finance report's flows folded up to the rollup's watermark: per UTC
    month and journal kind, the points the kind moved (``finance.FLOWS_SQL``'s
    per-header figure) and how many headers. Derived data: ``finance_rollup_rebuild``
    recomputes it from the journal."""

    month = models.DateField()
    kind = models.CharField(max_length=20)
    points = models.BigIntegerField(default=0)
    transactions = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["month", "kind"], name="finance_month_kind_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.kind}: {self.points}"


class FinanceIssuerOutstanding(models.Model):
    """Per issuer, the lots' points plus their movements up to the rollup's
    watermark (what ``sum(remaining)`` was there). The issuer may be NULL (points
    no partner issued), one row for all of them."""

    issuer_id = models.BigIntegerField(null=True)
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["issuer_id"], nulls_distinct=False, name="finance_issuer_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"issuer {self.issuer_id}: {self.points}"


class FinanceRollupWatermark(models.Model):
    """How far the finance rollups have folded the journal: every transaction with
    an id up to ``transaction_id`` is in them, none above. One row."""

    name = models.CharField(max_length=40, primary_key=True)
    transaction_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.transaction_id}"
