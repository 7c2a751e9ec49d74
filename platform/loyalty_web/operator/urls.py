"""URLs of the operator console, on the coalition's public host under ``/operator/``."""

from django.urls import path

from loyalty_web.operator import audit, members, partners, settlement, staff, views
from loyalty_web.operator import audit, members, partners, staff, terms, views
from loyalty_web.operator import audit, members, partners, payouts, staff, views
from loyalty_web.operator import audit, members, partners, programme, staff, views
from loyalty_web.operator import audit, members, partners, reports, staff, views

app_name = "operator"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_page, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.logout_page, name="logout"),
    path("account/two-step/", views.two_factor_page, name="two_factor"),
    path("partners/", partners.partner_list, name="partners"),
    path("onboard/", partners.onboard, name="onboard"),
    path("partners/<slug:slug>/", partners.partner_detail, name="partner"),
    path("partners/<slug:slug>/terms/", terms.terms_history, name="partner_terms"),
    path("partners/<slug:slug>/terms/new/", terms.terms_new, name="partner_terms_new"),
    path("partners/<slug:slug>/terms/confirm/", terms.terms_confirm, name="partner_terms_confirm"),
    path("partners/<slug:slug>/setup-terms/", terms.onboard_terms, name="onboard_terms"),
    path("partners/<slug:slug>/owner/", partners.onboard_owner, name="onboard_owner"),
    path("partners/<slug:slug>/payouts/", partners.onboard_payouts, name="onboard_payouts"),
    path(
        "partners/<slug:slug>/status/<str:to_status>/",
        partners.partner_status,
        name="partner_status",
    ),
    path("audit/", audit.audit_log, name="audit"),
    path("staff/", staff.staff_list, name="staff"),
    path("staff/<int:user_id>/role/", staff.staff_role, name="staff_role"),
    path("staff/<int:user_id>/remove/", staff.staff_remove, name="staff_remove"),
    path(
        "staff/invitations/<int:invitation_id>/withdraw/",
        staff.invitation_withdraw,
        name="staff_invitation_withdraw",
    ),
    path("invitation/<str:token>/", staff.invitation_accept, name="invitation"),
    path("members/", members.member_search, name="members"),
    path("members/<str:number>/", members.member_detail, name="member"),
    path("members/<str:number>/history/", members.member_history, name="member_history"),
    path(
        "members/<str:number>/status/<str:to_status>/",
        members.member_status,
        name="member_status",
    ),
    path("members/<str:number>/erase/", members.member_erase, name="member_erase"),
    path("settlement/", settlement.periods, name="settlement"),
    path("settlement/close/", settlement.period_close, name="settlement_close"),
    path("settlement/periods/<int:number>/", settlement.period_detail, name="settlement_period"),
    path(
        "settlement/periods/<int:number>/statements/<int:statement_id>/",
        settlement.statement_detail,
        name="settlement_statement",
    ),
    path("settlement/payouts/", payouts.payout_list, name="payouts"),
    path(
        "settlement/payouts/<int:statement_id>/retry/",
        payouts.payout_retry,
        name="payout_retry",
    ),
    path(
        "settlement/payouts/periods/<int:number>/",
        payouts.period_payout,
        name="period_payout",
    ),
    path("settlement/payouts/runs/<int:job_id>/", payouts.payout_job, name="payout_job"),
    path("settlement/reconciliation/", payouts.reconciliation, name="reconciliation"),
    path("settlement/charities/", payouts.charity_payouts, name="charity_payouts"),
    path("programme/", programme.programme_home, name="programme"),
    path("programme/tiers/", programme.tier_levels, name="programme_tiers"),
    path("programme/tiers/add/", programme.tier_level_add, name="programme_tier_add"),
    path("programme/tiers/policy/", programme.tier_policy, name="programme_tier_policy"),
    path("programme/tiers/<slug:code>/", programme.tier_level_edit, name="programme_tier"),
    path("programme/charities/", programme.charities, name="programme_charities"),
    path("programme/charities/add/", programme.charity_add, name="programme_charity_add"),
    path("programme/charities/<slug:slug>/", programme.charity_edit, name="programme_charity"),
    path(
        "programme/charities/<slug:slug>/<str:to>/",
        programme.charity_active,
        name="programme_charity_active",
    ),
    path("reports/", reports.liability, name="reports"),
    path("reports/breakage/", reports.breakage, name="report_breakage"),
    path("reports/issued-redeemed/", reports.flows, name="report_flows"),
]
