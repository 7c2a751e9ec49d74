"""Members signing in to their own app over the coalition API, with the portal's
e-mailed code: ``startMemberSignIn`` then ``completeMemberSignIn``, which gives a
member token (the one ``issueMemberToken`` gives partner apps).

Both are open to anonymous callers, who have no idempotency scope of their own:
a start's key is scoped to the address, a completion's to the challenge. A
repeated start answers the same challenge and sends no second e-mail; a
repeated completion (same code) answers the same token. A failed request keeps
nothing, so a wrong code counts towards the lock every time."""

from __future__ import annotations

import hashlib
from typing import Any

import graphene
from django.urls import reverse

from coalition.member_auth.sign_in import member_sign_in_complete_challenge, member_sign_in_start
from loyalty_graphql.auth import member_token_issue
from loyalty_graphql.base import ANYONE, Call, LoyaltyMutation, Replay
from loyalty_graphql.members.mutations import MemberTokenAnswer
from loyalty_kernel.idempotency import IdempotencyKey


def _scope(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


class StartMemberSignIn(LoyaltyMutation):
    """E-mail a sign-in code (and a portal link) to a member. The answer is the
    same whether or not a member has the address: a challenge id to send back
    with the code. Throttled per address and per network, like the portal."""

    class Arguments:
        email = graphene.String(required=True)

    challenge = graphene.String(
        description="Send it back with the e-mailed code to completeMemberSignIn."
    )
    allowed = ANYONE
    # The service runs its own transaction; a throttled request keeps nothing.
    replay = Replay.AFTER

    @classmethod
    def idempotency_key(cls, call: Call, arguments: dict[str, Any]) -> IdempotencyKey:
        return IdempotencyKey(_scope("sign-in", arguments["email"].strip().lower()), call.key)

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        request = call.info.context
        challenge = member_sign_in_start(
            email=args["email"],
            ip=request.META.get("REMOTE_ADDR") or None,
            link_url=request.build_absolute_uri(reverse("portal:sign_in_link") + "?t="),
        )
        return {"challenge": challenge}


class CompleteMemberSignIn(MemberTokenAnswer):
    """A member token (valid 12 hours) for the code e-mailed by startMemberSignIn.
    A code works once and not after it expires; the tenth wrong code locks the
    attempt (SIGN_IN_LOCKED: ask for a new code)."""

    class Arguments:
        challenge = graphene.String(required=True)
        code = graphene.String(required=True)

    allowed = ANYONE
    # Not in a transaction around the service: a wrong code must stay counted.
    replay = Replay.AFTER

    @classmethod
    def idempotency_key(cls, call: Call, arguments: dict[str, Any]) -> IdempotencyKey:
        return IdempotencyKey(_scope("sign-in-challenge", arguments["challenge"]), call.key)

    @classmethod
    def perform(cls, call: Call, **args: Any) -> dict[str, Any]:
        member = member_sign_in_complete_challenge(challenge=args["challenge"], code=args["code"])
        return {"token": member_token_issue(member.pk)}
