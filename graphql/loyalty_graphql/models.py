"""API credentials: partner and operator keys, and the mutations' stored answers
for idempotency keys (public schema). Outbound webhooks are a domain of their
own, in ``coalition.webhooks``.

Only a SHA-256 hash of a key is stored; the key itself is shown once, when it is
created. A key is looked up by its public prefix and compared in constant time.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.functions import Now

# "configure": the programme's set-up (stores, earn rules, the value of a point).
SCOPES = ("read", "members", "earn", "redeem", "settlement", "configure", "operator")


class ApiKey(models.Model):
    # Null partner: an operator key (scope "operator"), valid on the public host.
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class StoredAnswer(models.Model):
    """The answer a mutation gave for a caller's idempotency key, replayed for
    the same key and input (``loyalty_graphql.answers``)."""

    scope = models.CharField(max_length=80)  # who chose the key: "partner:12", "member:7"
    key = models.CharField(max_length=120)
    operation = models.CharField(max_length=64)  # the mutation's field name
    request_hash = models.CharField(max_length=64)
    # Null only while the transaction that claimed the key is answering.
    answer = models.JSONField(null=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["scope", "key"], name="stored_answer_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.scope} {self.key}"
