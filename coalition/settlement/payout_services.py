"""Writes of payouts from the operator console: retry one refused payout, start a
closed period's payout run or a reconciliation with Stripe (jobs), and run them.

Each request is a ``PayoutJob`` stored under the form's idempotency key: the
same key again replays the first request (a second press does nothing new), and
what pays is always ``gateway.pay_out_one``, whose Stripe idempotency keys derive
from the statement, so even two different requests racing pay a statement once.
Stripe is called outside any transaction (the gateway's rule); each request is
audited with the operator who made it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from coalition.audit.services import audit_record
from coalition.settlement import tasks
from coalition.settlement.errors import PayoutNotFailed, PeriodNotClosed, UnknownStatement
from coalition.settlement.models import (
    PaymentStatus,
    PayoutJob,
    PayoutJobKind,
    PayoutJobStatus,
    PeriodStatus,
    SettlementPeriod,
    Statement,
)
from coalition.settlement.payout_selectors import statements_to_pay
from coalition.settlement.stripe import gateway
from loyalty_kernel import clock
from loyalty_kernel.errors import DomainError
from loyalty_kernel.idempotency import IdempotencyKey, check_replay, request_hash
from loyalty_kernel.jobs import enqueue_on_commit


def _replay(idempotency: IdempotencyKey, digest: str) -> PayoutJob | None:
    job = PayoutJob.objects.filter(
        idempotency_scope=idempotency.scope, idempotency_key=idempotency.key
    ).first()
    if job is not None:
        check_replay(job.request_hash, digest, idempotency, "payout request")
    return job


def _claim(idempotency: IdempotencyKey, digest: str, **fields: Any) -> PayoutJob | None:
    """The new job, or None when a twin request with this key got there first."""
    try:
        with transaction.atomic():
            return PayoutJob.objects.create(
                idempotency_scope=idempotency.scope,
                idempotency_key=idempotency.key,
                request_hash=digest,
                **fields,
            )
    except IntegrityError:
        return None


def _payout_state(statement: Statement) -> dict[str, Any]:
    return {
        "payment_status": statement.payment_status,
        "stripe_object_id": statement.stripe_object_id,
        "payout_error_code": statement.payout_error_code,
        "payout_error_message": statement.payout_error_message,
        "payout_attempts": statement.payout_attempts,
    }


# --- retry one refused payout ------------------------------------------------------------


def payout_retry(
    *,
    statement_id: int,
    actor: Any,
    idempotency: IdempotencyKey,
    now: datetime | None = None,
) -> PayoutJob:
    """Pay a statement whose payout Stripe refused, now, and return the finished
    job (its ``result`` says what the statement came to: paid, or refused again
    with Stripe's reason). A statement that is not refused is ``PayoutNotFailed``;
    the same key again returns the first job."""
    digest = request_hash("payout_retry", {"statement": statement_id})
    done = _replay(idempotency, digest)
    if done is not None:
        return done
    gateway.client()  # no Stripe key: say so before anything is recorded
    with transaction.atomic():
        statement = Statement.objects.select_for_update().filter(pk=statement_id).first()
        if statement is None:
            raise UnknownStatement(f"no statement {statement_id}")
        if statement.payment_status != PaymentStatus.PAYOUT_ERROR or statement.stripe_object_id:
            raise PayoutNotFailed(
                f"statement {statement_id} is {statement.payment_status}: only a payout "
                "Stripe refused can be retried"
            )
        before = _payout_state(statement)
        job = _claim(
            idempotency,
            digest,
            kind=PayoutJobKind.RETRY,
            statement=statement,
            period_id=statement.period_id,
            status=PayoutJobStatus.RUNNING,
            total=1,
            requested_by=actor,
        )
    if job is None:  # the same press twice, at once: the first one pays
        replayed = _replay(idempotency, digest)
        if replayed is None:  # pragma: no cover - the constraint named a row that is gone
            raise PayoutNotFailed(f"statement {statement_id} is being retried")
        return replayed
    # Outside any transaction: Stripe may be slow, and its answer must be kept.
    outcome = gateway.pay_out_one(statement_id, now or clock.now())
    with transaction.atomic():
        statement = Statement.objects.get(pk=statement_id)
        after = _payout_state(statement)
        job.status = PayoutJobStatus.DONE
        job.done = 1
        job.paid = 1 if outcome.stripe_object_id else 0
        job.refused = 1 if outcome.failed else 0
        job.result = after
        job.finished_at = clock.now()
        job.save(update_fields=["status", "done", "paid", "refused", "result", "finished_at"])
        audit_record(
            actor=actor,
            partner_id=statement.partner_id,
            action="settlement.payout_retry",
            target=("statement", statement_id),
            before=before,
            after=after,
        )
    return job


# --- pay out a closed period (a job) -----------------------------------------------------


def payout_period_start(*, period_id: int, actor: Any, idempotency: IdempotencyKey) -> PayoutJob:
    """Queue the payout of every unpaid statement of a closed period (what
    ``loyalty pay-out`` does) and return the job, whose counts move as it runs.
    Refused payouts of the period are tried again too."""
    digest = request_hash("payout_period", {"period": period_id})
    done = _replay(idempotency, digest)
    if done is not None:
        return done
    gateway.client()  # no Stripe key: say so now, not in a job nobody watches
    with transaction.atomic():
        period = SettlementPeriod.objects.filter(pk=period_id).first()
        if period is None or period.status != PeriodStatus.CLOSED:
            raise PeriodNotClosed(f"period {period_id} is not closed: it has no statements")
        total = statements_to_pay(period.pk).count()
        job = _claim(
            idempotency,
            digest,
            kind=PayoutJobKind.PERIOD,
            period=period,
            total=total,
            requested_by=actor,
        )
        if job is None:
            replayed = _replay(idempotency, digest)
            if replayed is None:  # pragma: no cover - the constraint named a row that is gone
                raise PeriodNotClosed(f"period {period_id} could not be queued")
            return replayed
        audit_record(
            actor=actor,
            partner_id=None,
            action="settlement.payout_period",
            target=("period", period.number),
            after={"job": job.pk, "statements": total},
        )
        enqueue_on_commit(tasks.run_payout_job, job.pk)
    return job


def _start(job_id: int) -> PayoutJob | None:
    """Mark a queued job running; None if it has finished (a redelivered task)."""
    with transaction.atomic():
        job = PayoutJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.finished:
            return None
        job.status = PayoutJobStatus.RUNNING
        job.save(update_fields=["status"])
        return job


def _finish(job: PayoutJob, *, error: DomainError | None = None, **fields: Any) -> None:
    PayoutJob.objects.filter(pk=job.pk).update(
        status=PayoutJobStatus.FAILED if error else PayoutJobStatus.DONE,
        error_code=error.code if error else "",
        error_message=(error.message if error else "")[:500],
        finished_at=clock.now(),
        **fields,
    )


def payout_job_run(job_id: int, *, now: datetime | None = None) -> None:
    """The job's body: pay a period's statements one by one, counting as it goes,
    or reconcile. Safe to run again: what is paid is skipped, and Stripe's
    idempotency keys make a repeated call return what it made the first time."""
    job = _start(job_id)
    if job is None:
        return
    try:
        if job.kind == PayoutJobKind.RECONCILE:
            differences = gateway.reconcile()
            _finish(
                job,
                result={
                    "differences": [
                        {
                            "statement": d.statement_id,
                            "stripe_object": d.stripe_object_id,
                            "problem": d.problem,
                        }
                        for d in differences
                    ]
                },
            )
            return
        if job.period_id is None:  # a retry runs in its request, never as a job
            return
        ids = list(statements_to_pay(job.period_id).order_by("pk").values_list("pk", flat=True))
        PayoutJob.objects.filter(pk=job.pk).update(total=len(ids), done=0, paid=0, refused=0)
        for statement_id in ids:
            outcome = gateway.pay_out_one(statement_id, now or clock.now())
            PayoutJob.objects.filter(pk=job.pk).update(
                done=F("done") + 1,
                paid=F("paid") + (1 if outcome.stripe_object_id else 0),
                refused=F("refused") + (1 if outcome.failed else 0),
            )
    except DomainError as error:  # Stripe not configured, say: the job says why
        _finish(job, error=error)
        return
    _finish(job)


# --- reconciliation (a job) -------------------------------------------------------------------


def reconciliation_start(*, actor: Any, idempotency: IdempotencyKey) -> PayoutJob:
    """Queue a comparison of Stripe's transfers and invoices with the statements."""
    digest = request_hash("reconcile", {})
    done = _replay(idempotency, digest)
    if done is not None:
        return done
    gateway.client()
    with transaction.atomic():
        job = _claim(idempotency, digest, kind=PayoutJobKind.RECONCILE, requested_by=actor)
        if job is None:
            replayed = _replay(idempotency, digest)
            if replayed is None:  # pragma: no cover - the constraint named a row that is gone
                raise PayoutNotFailed("the reconciliation could not be queued")
            return replayed
        audit_record(
            actor=actor,
            partner_id=None,
            action="settlement.reconcile",
            target=("payout_job", job.pk),
        )
        enqueue_on_commit(tasks.run_payout_job, job.pk)
    return job
