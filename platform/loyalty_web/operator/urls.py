"""URLs of the operator console, on the coalition's public host under ``/operator/``."""

from django.urls import path

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
    path("reports/", reports.liability, name="reports"),
    path("reports/breakage/", reports.breakage, name="report_breakage"),
    path("reports/issued-redeemed/", reports.flows, name="report_flows"),
]
