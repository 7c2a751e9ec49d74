"""Signing members in with only an e-mail address: a six-digit code and a one-time
link, e-mailed together, stored hashed, single use, expiring after
``LOYALTY_MEMBER_SIGN_IN_CODE_SECONDS``. The answer and the work of the request
are the same whether or not the address belongs to a member (no enumeration, by
answer or by timing): the request records the attempt and enqueues one job, and
the job decides whether to mail. The tenth wrong code locks that attempt.

The portal finds the attempt by the address it asked a code for; a member app
(over the coalition API) by the challenge id ``member_sign_in_start`` returns.
Either way the code, its single use, its expiry and its lock are the same."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils.crypto import constant_time_compare, salted_hmac

from coalition.member_auth.errors import (
    InvalidSignInCode,
    InvalidSignInLink,
    SignInLocked,
    SignInThrottled,
)
from coalition.member_auth.models import MemberSignInAttempt
from coalition.members.models import Member, MemberStatus
from loyalty_kernel import clock, jobs

MAX_WRONG_CODES = 10
_SALT = "coalition.member_auth.sign_in"


def _hash(value: str) -> str:
    return salted_hmac(_SALT, value, algorithm="sha256").hexdigest()


def _code_hash(attempt_email: str, code: str) -> str:
    return _hash(f"code:{attempt_email}:{code}")


def _window() -> timedelta:
    return timedelta(seconds=settings.LOYALTY_MEMBER_SIGN_IN_CODE_SECONDS)


def _throttle(email: str, ip: str | None) -> None:
    now = clock.now()
    since = now - _window()
    recent = MemberSignInAttempt.objects.filter(created_at__gt=since)
    checks = [(recent.filter(email=email), settings.LOYALTY_MEMBER_SIGN_IN_PER_ADDRESS)]
    if ip:
        checks.append((recent.filter(ip=ip), settings.LOYALTY_MEMBER_SIGN_IN_PER_IP))
    for attempts, limit in checks:
        times = list(attempts.order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            wait = max(1, int((times[-1] + _window() - now).total_seconds()) + 1)
            minutes = (wait + 59) // 60
            raise SignInThrottled(
                f"Too many sign-in requests. Try again in {minutes} minute(s).",
                retry_after_seconds=wait,
            )


def member_sign_in_start(*, email: str, ip: str | None, link_url: str) -> str:
    """Record a sign-in request for ``email`` and enqueue the job that e-mails a code
    and a link if the address belongs to an active member. ``link_url`` is where the
    link points; the token is added to it. Returns the attempt's challenge id.

    The request does the same work whatever the address (the throttle, one row, one
    job after commit) and never looks the member up, so neither its answer nor its
    timing tells whether the address is enrolled. The code is made by the job, so
    no secret travels through the broker."""
    email = email.strip().lower()
    challenge = secrets.token_urlsafe(24)
    now = clock.now()
    with transaction.atomic():
        _throttle(email, ip)
        attempt = MemberSignInAttempt.objects.create(
            email=email,
            ip=ip,
            # Unusable until the job replaces them: nobody knows these values.
            code_hash=_hash(f"unissued:{secrets.token_urlsafe(32)}"),
            token_hash=_hash(f"unissued-token:{secrets.token_urlsafe(32)}"),
            challenge_hash=_hash(f"challenge:{challenge}"),
            created_at=now,
            expires_at=now + _window(),
        )
        jobs.enqueue_on_commit(send_sign_in_code, attempt.pk, link_url)
    return challenge


def sign_in_code_send(*, attempt_id: int, link_url: str) -> bool:
    """E-mail a fresh code and link for the attempt if its address belongs to an
    active member; nothing to an unknown address. True when a mail went out.
    A second run (a redelivered job) sends nothing once the attempt has its member."""
    now = clock.now()
    with transaction.atomic():
        attempt = (
            MemberSignInAttempt.objects.select_for_update()
            .filter(pk=attempt_id, member__isnull=True, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if attempt is None:
            return False
        member = Member.objects.filter(
            email__iexact=attempt.email, status=MemberStatus.ACTIVE
        ).first()
        if member is None:
            return False
        code = f"{secrets.randbelow(1_000_000):06d}"
        token = secrets.token_urlsafe(32)
        attempt.member = member
        attempt.code_hash = _code_hash(attempt.email, code)
        attempt.token_hash = _hash(f"token:{token}")
        attempt.save(update_fields=["member", "code_hash", "token_hash"])
        minutes = settings.LOYALTY_MEMBER_SIGN_IN_CODE_SECONDS // 60
        # Inside the transaction: if the mail fails, the attempt stays unissued
        # and a retried job issues it.
        send_mail(
            subject=f"Your sign-in code: {code}",
            message=(
                f"Your code to sign in to {settings.LOYALTY_COALITION_NAME}: {code}\n\n"
                f"Or open this link: {link_url}{token}\n\n"
                f"The code and the link work once, for {minutes} minutes. "
                "If you did not ask to sign in, ignore this e-mail."
            ),
            from_email=None,
            recipient_list=[member.email],
        )
    return True


# Here rather than in a tasks module: the start enqueues it. Thin: the id, then
# the service. Not retried by a sweep: a lost job costs the member a new request.
@shared_task(name="member_auth.send_sign_in_code", acks_late=True)
def send_sign_in_code(attempt_id: int, link_url: str) -> bool:
    return sign_in_code_send(attempt_id=attempt_id, link_url=link_url)


def member_sign_in_complete(*, email: str, code: str) -> Member:
    """The member whose latest code this is; the code then stops working. A wrong
    code is counted (and the count kept) before the error is raised."""
    email = email.strip().lower()
    return _complete(
        lambda now: MemberSignInAttempt.objects.filter(
            email=email, used_at__isnull=True, expires_at__gt=now
        ).order_by("-created_at"),
        code,
    )


def member_sign_in_complete_challenge(*, challenge: str, code: str) -> Member:
    """The member of the attempt ``challenge`` names, if ``code`` is its code; the
    code then stops working. Wrong codes are counted as in the portal."""
    challenge_hash = _hash(f"challenge:{challenge.strip()}")
    return _complete(
        lambda now: MemberSignInAttempt.objects.filter(
            challenge_hash=challenge_hash, used_at__isnull=True, expires_at__gt=now
        ),
        code,
    )


def _complete(attempts: Callable[[datetime], QuerySet[MemberSignInAttempt]], code: str) -> Member:
    now = clock.now()
    locked = SignInLocked("Too many wrong codes. Ask for a new code.")
    wrong = InvalidSignInCode("That code is wrong or has expired. Check the e-mail or ask again.")
    with transaction.atomic():
        attempt = attempts(now).select_for_update().first()
        if attempt is None:
            raise wrong
        if attempt.wrong_codes >= MAX_WRONG_CODES:
            raise locked
        right = constant_time_compare(attempt.code_hash, _code_hash(attempt.email, code.strip()))
        if right and attempt.member is not None:
            return _use(attempt, now, wrong)
        attempt.wrong_codes += 1
        attempt.save(update_fields=["wrong_codes"])
    raise locked if attempt.wrong_codes >= MAX_WRONG_CODES else wrong


@transaction.atomic
def member_sign_in_with_link(*, token: str) -> Member:
    now = clock.now()
    attempt = (
        MemberSignInAttempt.objects.select_for_update()
        .filter(token_hash=_hash(f"token:{token}"), used_at__isnull=True, expires_at__gt=now)
        .first()
    )
    wrong = InvalidSignInLink("That sign-in link has expired or was used. Ask for a new one.")
    if attempt is None or attempt.wrong_codes >= MAX_WRONG_CODES:
        raise wrong
    return _use(attempt, now, wrong)


def _use(attempt: MemberSignInAttempt, now: datetime, wrong: Exception) -> Member:
    member = attempt.member
    if member is None or member.status != MemberStatus.ACTIVE:
        raise wrong
    attempt.used_at = now
    attempt.save(update_fields=["used_at"])
    return member
