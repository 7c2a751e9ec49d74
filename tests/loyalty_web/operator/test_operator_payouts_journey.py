"""Finance pays a closed period out in a browser, through the local Stripe fake:
signs in with a password and a two-step code, opens the period's payout from the
payouts page, follows the run until it has finished (one transfer refused by
Stripe), reads Stripe's reason on the payouts list, and retries the refused
payout once Stripe accepts it; then reconciles and reads the charity payouts.
Every page passes the accessibility check, fetches nothing from outside the
machine, and is photographed at desktop and phone size."""

from __future__ import annotations

from typing import Any

import pytest

from coalition.settlement.models import PaymentStatus
from tests.testkit.browser import check_page
from tests.testkit.operator import PASSWORD, operator
from tests.testkit.payouts import REFUSAL, eager_jobs, period_to_pay, refuse_transfers_to
from tests.testkit.settlement import running_stripe_fake
from tests.testkit.two_factor import code_for

pytestmark = pytest.mark.slow


def test_finance_pays_out_a_period_and_retries_the_payout_stripe_refused(
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect  # with the browser tests' own dependency

    finance = operator("finance")
    page = browser_page.page
    with running_stripe_fake() as stripe, eager_jobs():
        # given a closed period with three unpaid statements, and Stripe refusing
        # one receiver's transfer
        period = period_to_pay()
        number = period.period.number
        refuse_transfers_to(stripe, period.refused)

        # when finance opens the payouts: the log-in, then the code
        page.goto(browser_page.url("/operator/settlement/payouts/"))
        page.get_by_label("E-mail address").fill(finance.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Code from your authenticator app").fill(code_for(finance, step_ahead=1))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Payouts", exact=True)).to_be_visible()
        check_page(browser_page, "operator-payouts")

        # and pays the period out from its check page
        page.get_by_role("link", name=f"Pay out period {number}", exact=True).click()
        expect(page.get_by_role("heading", name=f"Pay out period {number}?")).to_be_visible()
        expect(page.get_by_text("Statements not paid yet: 3.")).to_be_visible()
        check_page(browser_page, "operator-payouts-period")
        page.get_by_role("button", name="Pay out", exact=True).click()

        # then the run's page shows it finished: two paid, one refused
        expect(page.get_by_role("heading", name=f"Payout of period {number}")).to_be_visible()
        expect(page.get_by_text("3 of 3 statements tried")).to_be_visible()
        progress = page.locator("#payout-progress")
        expect(progress.locator("dd").nth(0)).to_have_text("2")
        expect(progress.locator("dd").nth(1)).to_have_text("1")
        check_page(browser_page, "operator-payouts-run")

        # and the period's payouts show the refusal with Stripe's reason
        page.get_by_role("link", name="See the period's payouts").click()
        expect(page.get_by_text(f"{REFUSAL['code']}: {REFUSAL['message']}")).to_be_visible()
        expect(page.locator("#payout-rows").get_by_text("Refused by Stripe")).to_be_visible()
        check_page(browser_page, "operator-payouts-refused")

        # when Stripe accepts again and finance retries the refused payout
        stripe.state.stop_refusing()
        page.get_by_role("link", name=f"Retry {period.refused.name}").click()
        expect(
            page.get_by_role("heading", name=f"Retry the payout to {period.refused.name}?")
        ).to_be_visible()
        check_page(browser_page, "operator-payouts-retry")
        page.get_by_role("button", name="Retry the payout").click()

        # then it is paid, once
        expect(page.get_by_text("Paid: Stripe accepted the payout.")).to_be_visible()
        expect(page.get_by_role("link", name=f"Retry {period.refused.name}")).to_have_count(0)
        check_page(browser_page, "operator-payouts-paid")
        statement = period.statement(period.refused)
        assert statement.payment_status == PaymentStatus.TRANSFER_SENT
        transfers = [
            t for t in stripe.state.created("transfers")
            if t["destination"] == f"acct_{period.refused.slug}"
        ]  # fmt: skip
        assert [t["id"] for t in transfers] == [statement.stripe_object_id]

        # and the reconciliation runs and says when it last did
        page.get_by_role("link", name="Reconciliation", exact=True).click()
        page.get_by_role("button", name="Reconcile now").click()
        expect(page.get_by_text("Last reconciled")).to_be_visible()
        check_page(browser_page, "operator-payouts-reconciliation")

        # and the charity payouts page answers
        page.get_by_role("link", name="Charities", exact=True).click()
        expect(page.get_by_role("heading", name="Charity payouts")).to_be_visible()
        check_page(browser_page, "operator-payouts-charities")
