"""A payout worker killed after Stripe created the transfer (or invoice) and before
we recorded it: running it again pays exactly once, thanks to the idempotency
keys derived from the statement. The worker is a real child process that dies
with ``os._exit``; the Stripe fake runs in the test process and counts."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.db import connection

from coalition.ledger import services as ledger
from coalition.settlement.models import PaymentStatus, Statement
from coalition.settlement.stripe import gateway
from loyalty_platform.devtools.stripe_fake import FakeStripeServer
from tenants.partners.models import Partner
from tests.testkit import PROJECT_ROOT, assert_on_test_database, database_url_of, subprocess_env
from tests.testkit.settlement import (
    API_KEY,
    NEUTRAL_FROM,
    close_everything_before,
    close_now,
    known_terms,
    new_member,
    onboard_partner,
    running_stripe_fake,
    statement_of,
)

KILLED = 137

# The worker: pays one statement, and dies (like a SIGKILL: no cleanup, no
# exception handling) at the moment it would record what Stripe created.
WORKER = """
import os, sys
sys.path[:0] = [".", "platform", "graphql"]
os.environ["DJANGO_SETTINGS_MODULE"] = "loyalty_platform.settings"
import django
django.setup()
from coalition.settlement.stripe import gateway

def killed(*args, **kwargs):
    os._exit(137)

gateway._record = killed
gateway.pay_out_statement(int(sys.argv[1]))
sys.exit(3)  # not reached: recording is where the worker dies
"""


def _worker_killed_while_paying(statement: Statement, fake: FakeStripeServer) -> None:
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, str(statement.pk)],
        cwd=PROJECT_ROOT,
        env=subprocess_env(
            DATABASE_URL=database_url_of(connection.settings_dict),
            DEBUG="1",
            STRIPE_API_KEY=API_KEY,
            STRIPE_API_BASE=fake.base_url,
        ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert worker.returncode == KILLED, worker.stderr[-3000:]


def _of(fake: FakeStripeServer, resource: str, statement: Statement) -> list[dict[str, Any]]:
    return [
        obj
        for obj in fake.state.created(resource)
        if obj.get("metadata", {}).get("statement") == str(statement.pk)
    ]


def _not_recorded(statement: Statement) -> bool:
    statement.refresh_from_db()
    return statement.stripe_object_id == "" and statement.payment_status == PaymentStatus.PENDING


def _unrecorded_at_stripe(statement: Statement) -> list[str]:
    return [
        str(d.stripe_object_id)
        for d in gateway.reconcile()
        if d.statement_id == statement.pk
        and d.problem == "created at Stripe but not recorded on the statement"
    ]


def test_this_module_runs_on_the_test_database(db: None) -> None:
    # Its `live_db` test alone would not make pytest-django create the test database.
    assert_on_test_database()


def test_a_worker_killed_after_the_stripe_call_pays_once_when_rerun(live_db: Any) -> None:
    assert_on_test_database()
    # given a committed closed period: the payer issued 1000 points at 1.0 (owes
    # 1000), the payee honoured 600 at 0.5 (is owed 300) and has a connected account
    payer, payee = onboard_partner("crashpayer", "EUR"), onboard_partner("crashpayee", "EUR")
    for partner in (payer, payee):
        known_terms(partner, issuance_price="1.0", reimbursement_rate="0.5",
                    effective_from=NEUTRAL_FROM)  # fmt: skip
    close_everything_before()
    member = new_member("crash")
    ledger.earn(member_id=member, partner_id=payer.pk, points=1000)
    ledger.burn(member_id=member, partner_id=payee.pk, points=600)
    period = close_now()  # (no Stripe key yet: nothing is paid on commit)
    Partner.objects.filter(pk=payee.pk).update(stripe_account_id="acct_crash_payee")
    transferred, invoiced = statement_of(period, payee), statement_of(period, payer)
    assert (transferred.net_amount, invoiced.net_amount) == (-300, 1000)

    with running_stripe_fake() as fake:
        # --- a net receiver: transfer ---------------------------------------------------
        # when the worker dies right after Stripe created the transfer
        _worker_killed_while_paying(transferred, fake)
        # then the transfer exists at Stripe, but the statement does not know it
        (transfer,) = _of(fake, "transfers", transferred)
        assert (transfer["amount"], transfer["destination"]) == (300, "acct_crash_payee")
        assert _not_recorded(transferred)
        assert _unrecorded_at_stripe(transferred) == [transfer["id"]]
        # when the payout runs again, in another process
        assert gateway.pay_out_statement(transferred.pk) == transfer["id"]
        # then Stripe answered the repeated request with the same transfer: one in all
        assert len(fake.state.created("transfers")) == 1
        assert fake.state.count("POST", "/v1/transfers") == 2
        transferred.refresh_from_db()
        assert (transferred.stripe_object_id, transferred.payment_status) == (
            transfer["id"], PaymentStatus.TRANSFER_SENT,
        )  # fmt: skip
        # and a third run does not even call Stripe
        assert gateway.pay_out_statement(transferred.pk) == transfer["id"]
        assert fake.state.count("POST", "/v1/transfers") == 2

        # --- a net payer: invoice -------------------------------------------------------
        # when the worker dies right after Stripe created and finalised the invoice
        _worker_killed_while_paying(invoiced, fake)
        (invoice,) = _of(fake, "invoices", invoiced)
        assert (invoice["amount_due"], invoice["status"]) == (1000, "open")
        assert _not_recorded(invoiced)
        assert _unrecorded_at_stripe(invoiced) == [invoice["id"]]
        # when the payout runs again
        assert gateway.pay_out_statement(invoiced.pk) == invoice["id"]
        # then there is still one customer, one invoice item and one invoice
        assert len(fake.state.created("customers")) == 1
        assert len(fake.state.created("invoiceitems")) == 1
        assert len(fake.state.created("invoices")) == 1
        assert fake.state.count("POST", "/v1/invoices") == 2
        assert fake.state.count("POST", "/v1/invoiceitems") == 2
        assert fake.state.count("POST", f"/v1/invoices/{invoice['id']}/finalize") == 2
        invoiced.refresh_from_db()
        assert (invoiced.stripe_object_id, invoiced.payment_status) == (
            invoice["id"], PaymentStatus.INVOICED,
        )  # fmt: skip
        # and Stripe and our books agree on both statements
        ours = {transferred.pk, invoiced.pk}
        assert [d for d in gateway.reconcile() if d.statement_id in ours] == []
