"""Sending a notification, and the member's choices of what to receive.

``notification_send`` is the one way to e-mail a member a service message: it
checks the member's choice for that kind, writes the outbox row (unique per
member, kind and key) and sends in the same transaction, so a retried or
concurrent task sends nothing twice and a failed send leaves no row (the retry
sends). The mail is a text and an HTML part rendered in the member's language,
with ``List-Unsubscribe`` and one-click ``List-Unsubscribe-Post`` headers that
point at a signed link: it switches that kind off without signing in.

Mail templates live with the pages' translations (``loyalty_web`` owns the
project's only catalogue): ``loyalty_web/mail/<kind>.txt``, ``.html`` and
``_subject.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import translation

from coalition.members.models import Member, MemberChange
from coalition.notifications.errors import InvalidUnsubscribeLink, UnknownNotificationKind
from coalition.notifications.models import (
    MemberLanguage,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationStatus,
)
from coalition.notifications.selectors import member_language, notification_enabled
from loyalty_kernel import clock

UNSUBSCRIBE_SALT = "coalition.notifications.unsubscribe"
UNSUBSCRIBE_PATH = "/portal/unsubscribe/{token}/"
PROFILE_PATH = "/portal/profile/#notifications"
# How a choice is recorded among the member's profile changes (MemberChange.field).
CHANGE_FIELD = "notify_{kind}"


def _kind(kind: str) -> NotificationKind:
    if kind not in NotificationKind.values:
        raise UnknownNotificationKind(f"there is no notification {kind!r}")
    return NotificationKind(kind)


# --- the unsubscribe link --------------------------------------------------------


def unsubscribe_token(member_id: int, kind: str) -> str:
    """A signed token naming the member and the kind; it does not expire (a link in
    an old e-mail must still work) and cannot be altered to name anyone else."""
    return signing.dumps([member_id, _kind(kind).value], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> tuple[int, NotificationKind]:
    try:
        member_id, kind = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidUnsubscribeLink(
            "This unsubscribe link is not valid. Copy the whole link from the e-mail, "
            "or sign in and change your choices on your profile page."
        ) from None
    if not isinstance(member_id, int) or kind not in NotificationKind.values:
        raise InvalidUnsubscribeLink("This unsubscribe link is not valid.")
    return member_id, NotificationKind(kind)


def unsubscribe_url(member_id: int, kind: str) -> str:
    return settings.LOYALTY_PUBLIC_URL + UNSUBSCRIBE_PATH.format(
        token=unsubscribe_token(member_id, kind)
    )


# --- choices --------------------------------------------------------------------


def notification_preference_set(
    *,
    member_id: int,
    kind: str,
    enabled: bool,
    channel: str = "portal",
    now: datetime | None = None,
) -> bool:
    """Switch one kind on or off; records the change among the member's profile
    changes. Returns whether anything changed."""
    kind = _kind(kind)
    now = now or clock.now()
    with transaction.atomic():
        # The member row lock orders concurrent changes of the same member.
        Member.objects.select_for_update().filter(pk=member_id).first()
        row = NotificationPreference.objects.filter(member_id=member_id, kind=kind).first()
        was = row.enabled if row else True
        if was == enabled:
            return False
        NotificationPreference.objects.update_or_create(
            member_id=member_id, kind=kind, defaults={"enabled": enabled, "changed_at": now}
        )
        MemberChange.objects.create(
            member_id=member_id,
            field=CHANGE_FIELD.format(kind=kind.value),
            change="on" if enabled else "off",
            channel=channel,
            changed_at=now,
        )
        return True


def notification_preferences_save(
    *,
    member_id: int,
    choices: dict[str, bool],
    language: str | None = None,
    channel: str = "portal",
    now: datetime | None = None,
) -> list[str]:
    """Save the member's choices (kinds not named keep theirs) and the language they
    use; returns the kinds that changed."""
    now = now or clock.now()
    for kind in choices:
        _kind(kind)
    with transaction.atomic():
        changed = [
            kind
            for kind, enabled in choices.items()
            if notification_preference_set(
                member_id=member_id, kind=kind, enabled=enabled, channel=channel, now=now
            )
        ]
        if language and language in dict(settings.LANGUAGES):
            MemberLanguage.objects.update_or_create(
                member_id=member_id, defaults={"language": language, "updated_at": now}
            )
    return changed


@dataclass(frozen=True)
class Unsubscribed:
    member_id: int
    kind: NotificationKind
    changed: bool  # False: it was already off


def notification_unsubscribe(*, token: str, now: datetime | None = None) -> Unsubscribed:
    """The unsubscribe link's POST: switch off the kind the token names."""
    member_id, kind = unsubscribe_token_read(token)
    if not Member.objects.filter(pk=member_id).exists():
        raise InvalidUnsubscribeLink("This unsubscribe link is not valid.")
    changed = notification_preference_set(
        member_id=member_id, kind=kind, enabled=False, channel="unsubscribe link", now=now
    )
    return Unsubscribed(member_id, kind, changed)


def notifications_forget_member(*, member_id: int) -> None:
    """Erasure: the member's choices, language and what was e-mailed to them go
    (an erased member is sent nothing, so the outbox has nothing left to guard).
    Runs in the erasure's transaction (``member_erased``)."""
    NotificationPreference.objects.filter(member_id=member_id).delete()
    MemberLanguage.objects.filter(member_id=member_id).delete()
    Notification.objects.filter(member_id=member_id).delete()


# --- sending --------------------------------------------------------------------


def _message(member: Member, kind: NotificationKind, context: dict[str, Any]) -> Any:
    url = unsubscribe_url(member.pk, kind)
    values = {
        **context,
        "coalition_name": settings.LOYALTY_COALITION_NAME,
        "member": member,
        "unsubscribe_url": url,
        "profile_url": settings.LOYALTY_PUBLIC_URL + PROFILE_PATH,
    }
    with translation.override(member_language(member.pk) or settings.LANGUAGE_CODE):
        base = f"loyalty_web/mail/{kind.value}"
        subject = " ".join(render_to_string(f"{base}_subject.txt", values).split())
        text = render_to_string(f"{base}.txt", values)
        html = render_to_string(f"{base}.html", values)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[member.email],
        headers={
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def notification_send(
    *,
    member_id: int,
    kind: str,
    key: str,
    context: dict[str, Any],
    now: datetime | None = None,
) -> Notification | None:
    """E-mail the member this notification once per ``(member, kind, key)``.

    Returns the outbox row written now (status sent, or skipped when the member
    switched the kind off or is not active), or None when the key was already
    handled (a retry, or a concurrent run): nothing is sent then."""
    kind = _kind(kind)
    now = now or clock.now()
    member = Member.objects.filter(pk=member_id).first()
    if member is None:
        return None
    send = member.is_active and notification_enabled(member_id, kind)
    message = _message(member, kind, context) if send else None
    try:
        with transaction.atomic():
            row = Notification.objects.create(
                member_id=member_id,
                kind=kind,
                key=key[:80],
                status=NotificationStatus.SENT if send else NotificationStatus.SKIPPED,
                subject=message.subject[:200] if message else "",
                created_at=now,
            )
            if message is not None:
                # Inside the transaction: a send that fails leaves no row, and
                # the retry sends; a concurrent run waits on the unique row.
                message.send()
    except IntegrityError:
        return None
    return row
