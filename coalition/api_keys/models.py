"""API credentials of partner apps and of the operator (public schema).

Only a SHA-256 hash of a key is stored; the key itself is shown once, when it is
created. A key is looked up by its public prefix and compared in constant time
(``loyalty_graphql.auth``, on every API call).

The table kept the name it had when this lived in the API package
(``loyalty_graphql_apikey``): the move was state-only, so no data was copied and
a web node still running the previous release keeps working during a rolling
deploy. The console's Integration pages and the API both use this app.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

# The one list of scopes: what a key may be allowed to do. The console says what
# each allows in a sentence (``loyalty_web.console.integration_forms``).
# "configure": the programme's set-up (stores, earn rules, the value of a point);
# "adjust": add points to members or take points back (``adjustPoints``).
SCOPES = ("read", "members", "earn", "redeem", "settlement", "configure", "adjust", "operator")
# What a partner key may be given (the operator scope is for operator keys only).
PARTNER_SCOPES = tuple(scope for scope in SCOPES if scope != "operator")


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
    # The creation's idempotency key (a console form's, say): a double submit
    # answers this key instead of creating a second one. Its secret is not
    # stored, so the retry cannot show it again.
    idempotency_scope = models.CharField(max_length=80, null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    # With a database default: a node still on the previous release inserts keys
    # without it during a rolling deploy.
    request_hash = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        db_table = "loyalty_graphql_apikey"
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="api_key_idempotency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
