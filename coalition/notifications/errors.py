"""Typed errors of member notifications; ``code`` is what API clients branch on."""

from __future__ import annotations

from loyalty_kernel.errors import DomainError


class NotificationError(DomainError):
    code = "notification_error"


class UnknownNotificationKind(NotificationError):
    code = "unknown_notification_kind"
    field = "kind"


class InvalidUnsubscribeLink(NotificationError):
    code = "invalid_unsubscribe_link"
