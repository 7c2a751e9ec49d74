"""Ledger tables. The database enforces the accounting rules (see migration 0002):

- entries, transaction headers, lot movements and chain links are append-only
  (UPDATE, DELETE and TRUNCATE raise);
- every transaction's entries sum to zero, checked at commit by a deferred
  constraint trigger;
- a member wallet never goes below zero, and a lot's remaining points stay
  between zero and its original points (CHECK constraints).

Sign convention: an entry's amount is what it adds to its account's balance.
Earning N at partner A posts issuance(A) -N, wallet +N; so issuance accounts
run negative by the points each partner has put into circulation.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class AccountKind(models.TextChoices):
    WALLET = "wallet", "Member wallet"
    ISSUANCE = "issuance", "Partner issuance"
    REDEMPTION = "redemption", "Partner redemption"
    HOLDS = "holds", "Points on hold"
    BREAKAGE = "breakage", "Breakage (expired points)"
    FEES = "fees", "Coalition fees"
    CHARITY = "charity", "Charity wallet"
    # Points the coalition itself gives (operator goodwill): no partner issued them.
    GOODWILL = "goodwill", "Coalition goodwill"


# Accounts touched by nearly every event. They never carry a stored balance
# (a single hot row would serialise every post); their balance is a snapshot
# plus the entries after it.
DERIVED_BALANCE_KINDS = frozenset(
    {
        AccountKind.ISSUANCE,
        AccountKind.REDEMPTION,
        AccountKind.HOLDS,
        AccountKind.BREAKAGE,
        AccountKind.FEES,
        AccountKind.CHARITY,
        AccountKind.GOODWILL,
    }
)
PARTNER_ACCOUNT_KINDS = frozenset({AccountKind.ISSUANCE, AccountKind.REDEMPTION})
COALITION_ACCOUNT_KINDS = frozenset(
    {AccountKind.HOLDS, AccountKind.BREAKAGE, AccountKind.FEES, AccountKind.GOODWILL}
)


class Account(models.Model):
    kind = models.CharField(max_length=12, choices=AccountKind.choices)
    member = models.OneToOneField(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="wallet"
    )
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=120, blank=True)
    # Stored only for wallets (locked per member); always 0 for derived kinds.
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(kind__in=AccountKind.values), name="account_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=AccountKind.WALLET) | models.Q(balance__gte=0),
                name="wallet_never_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=AccountKind.WALLET) | models.Q(balance=0),
                name="derived_accounts_store_no_balance",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=AccountKind.WALLET, member__isnull=False, partner__isnull=True)
                    | (~models.Q(kind=AccountKind.WALLET) & models.Q(member__isnull=True))
                ),
                name="wallet_belongs_to_a_member",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=PARTNER_ACCOUNT_KINDS)
                | models.Q(partner__isnull=False),
                name="partner_account_has_partner",
            ),
            models.UniqueConstraint(
                fields=["kind", "partner"],
                condition=models.Q(partner__isnull=False),
                name="one_account_per_kind_and_partner",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(kind__in=COALITION_ACCOUNT_KINDS),
                name="one_coalition_account_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk}"


class TransactionKind(models.TextChoices):
    EARN = "earn", "Earn"
    BURN = "burn", "Burn"
    HOLD = "hold", "Hold authorised"
    CAPTURE = "capture", "Hold captured"
    VOID = "void", "Hold voided"
    HOLD_EXPIRY = "hold_expiry", "Hold expired"
    EARN_REVERSAL = "earn_reversal", "Earn reversed"
    BURN_REVERSAL = "burn_reversal", "Burn reversed"
    TRANSFER = "transfer", "Transfer between members"
    TRANSFER_REVERSAL = "transfer_reversal", "Transfer reversed"
    EXPIRY = "expiry", "Points expired"
    DONATION = "donation", "Donation to a charity"
    # A partner's points adjustment: a goodwill or correcting credit (issued like
    # an earn) or a correcting debit (taken back like a return).
    ADJUSTMENT_CREDIT = "adjustment_credit", "Points added by an adjustment"
    ADJUSTMENT_DEBIT = "adjustment_debit", "Points taken back by an adjustment"
    # Coalition-funded points given by operator support (four eyes above a
    # threshold): ``goodwill -N, wallet +N`` and a lot with no issuer.
    GOODWILL_CREDIT = "goodwill_credit", "Points given by the coalition"


class Transaction(models.Model):
    """A journal transaction header. Its id is the ledger sequence: periods are
    closed at an id watermark, never by timestamps."""

    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Indexed by ledger_tx_member (member, -id) below, not by a plain FK index.
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    # The headline points of the operation (earned, burned, requested to reverse).
    points = models.BigIntegerField()
    external_ref = models.CharField(max_length=120, blank=True)
    memo = models.CharField(max_length=200, blank=True)
    # Mostly NULL: partial indexes below instead of full FK indexes.
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
        db_index=False,
    )  # fmt: skip
    hold = models.ForeignKey(
        "Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="transactions",
        db_index=False,
    )  # fmt: skip
    idempotency_scope = models.CharField(max_length=80, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    # What the caller was told (balance after, shortfall, ...); a replay returns it.
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="ledger_idempotency"
            ),
            models.CheckConstraint(
                condition=models.Q(points__gte=0), name="transaction_points_not_negative"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["member", "-id"], name="ledger_tx_member"),
            models.Index(
                fields=["reverses"],
                condition=models.Q(reverses__isnull=False),
                name="ledger_tx_reverses",
            ),
            models.Index(
                fields=["hold"], condition=models.Q(hold__isnull=False), name="ledger_tx_hold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    # Indexed by ledger_entry_account (account, transaction) INCLUDE (amount).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "entries"
        constraints: ClassVar = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="entry_amount_not_zero"),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["account", "transaction"], include=["amount"], name="ledger_entry_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.amount:+d}"


class Lot(models.Model):
    """Points that arrived in a wallet together: who issued them, when, until when.
    ``issuer`` NULL: the coalition funded them (operator goodwill), no partner did."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="lots")
    issuer = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="lots")
    # For points received by transfer: the sender's lot they came from.
    source_lot = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, db_index=False
    )
    earned_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(points__gt=0), name="lot_points_positive"),
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0, remaining__lte=models.F("points")),
                name="lot_remaining_within_points",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["member", "expires_at", "earned_at", "id"],
                condition=models.Q(remaining__gt=0),
                name="ledger_lot_spendable",
            ),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(remaining__gt=0, expires_at__isnull=False),
                name="ledger_lot_expiring",
            ),
            models.Index(
                fields=["source_lot"],
                condition=models.Q(source_lot__isnull=False),
                name="ledger_lot_source",
            ),
        ]

    def __str__(self) -> str:
        return f"lot#{self.pk} {self.remaining}/{self.points}"


class LotMovement(models.Model):
    """A change of a lot's remaining points by a transaction: negative when points
    leave it (burn, hold, transfer out, expiry, reversal), positive when they come
    back (void, release, burn reversal). Burns' movements say which issuer's points
    were redeemed, which is what settlement needs."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="movements")
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="lot_movements"
    )
    points = models.BigIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=~models.Q(points=0), name="lot_movement_not_zero"),
        ]

    def __str__(self) -> str:
        return f"lot#{self.lot_id} {self.points:+d}"


class HoldStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CAPTURED = "captured", "Captured"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class Hold(models.Model):
    """Points reserved for a payment at a partner until captured, voided or expired.
    It resolves exactly once: the status leaves ``pending`` one time only."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="holds")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    captured_points = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.PENDING)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(points__gt=0), name="hold_points_positive"),
            models.CheckConstraint(
                condition=models.Q(captured_points__gte=0, captured_points__lte=models.F("points")),
                name="hold_capture_within_points",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status=HoldStatus.PENDING, resolved_at__isnull=True, captured_points=0)
                    | (~models.Q(status=HoldStatus.PENDING) & models.Q(resolved_at__isnull=False))
                ),
                name="hold_resolution_consistent",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status=HoldStatus.PENDING),
                name="ledger_hold_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"hold#{self.pk} {self.status}"


class AccountSnapshot(models.Model):
    """Balance of a derived-balance account up to a safe ledger watermark."""

    # Indexed by ``one_snapshot_per_watermark`` (account, watermark), which serves
    # lookups by account alone too: no index of its own.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="snapshots", db_index=False
    )
    as_of_transaction_id = models.BigIntegerField()
    balance = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["account", "as_of_transaction_id"], name="one_snapshot_per_watermark"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}@{self.as_of_transaction_id}={self.balance}"


class ChainLink(models.Model):
    """One link of the journal's hash chain, in sealing order (``position``)."""

    transaction = models.OneToOneField(
        Transaction, primary_key=True, on_delete=models.PROTECT, related_name="chain_link"
    )
    position = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"#{self.position} {self.hash[:12]}"
