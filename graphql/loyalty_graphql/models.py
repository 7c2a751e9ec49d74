"""The mutations' stored answers for idempotency keys (public schema). API keys
and outbound webhooks are domains of their own, in ``coalition.api_keys`` and
``coalition.webhooks`` (the console's pages use them too).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.functions import Now


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
