"""URLs of the merchant console, on a partner's host."""

from django.urls import path

from loyalty_web.console import (
    account,
    adjustments,
    campaigns,
    dashboard,
    integration,
    members,
    programme,
    rewards,
    settlement,
    till,
    views,
)
from loyalty_web.design.pages import web_view

app_name = "console"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", views.login_page, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.logout_page, name="logout"),
    path("account/two-step/", account.two_factor_page, name="two_factor"),
    path("password-reset/", web_view(views.PasswordResetView.as_view()), name="password_reset"),
    path(
        "password-reset/sent/",
        web_view(views.PasswordResetSentView.as_view()),
        name="password_reset_sent",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        web_view(views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        web_view(views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation"),
    path("staff/", views.staff_list, name="staff"),
    path("staff/<int:user_id>/role/", views.staff_role, name="staff_role"),
    path("staff/<int:user_id>/remove/", views.staff_remove, name="staff_remove"),
    path(
        "staff/invitations/<int:invitation_id>/withdraw/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("audit/", views.audit_log, name="audit"),
    path("adjustments/", adjustments.adjustment_list, name="adjustments"),
    # programme: stores, earn rules, the value of a point
    path("stores/", programme.store_list, name="stores"),
    path("stores/new/", programme.store_create, name="store_create"),
    path("stores/<str:code>/edit/", programme.store_edit, name="store_edit"),
    path("stores/<str:code>/close/", programme.store_close, name="store_close"),
    path("stores/<str:code>/reopen/", programme.store_reopen, name="store_reopen"),
    path("earn-rules/", programme.rule_versions, name="rules"),
    path("earn-rules/drafts/", programme.rule_draft_create, name="rule_draft_create"),
    path("earn-rules/compare/", programme.rule_compare, name="rule_compare"),
    path("earn-rules/<int:number>/", programme.rule_version, name="rule_version"),
    path("earn-rules/<int:number>/preview/", programme.rule_preview, name="rule_preview"),
    path("earn-rules/<int:number>/rules/new/", programme.rule_edit, name="rule_add"),
    path("earn-rules/<int:number>/rules/<int:rule_id>/", programme.rule_edit, name="rule_edit"),
    path(
        "earn-rules/<int:number>/rules/<int:rule_id>/remove/",
        programme.rule_remove,
        name="rule_remove",
    ),
    path("point-value/", programme.point_value, name="point_value"),
    # integration: API keys and webhook endpoints (owners)
    path("integration/", integration.overview, name="integration"),
    path("integration/api-keys/new/", integration.key_create, name="api_key_create"),
    path(
        "integration/api-keys/<int:key_id>/created/",
        integration.key_created,
        name="api_key_created",
    ),
    path(
        "integration/api-keys/<int:key_id>/revoke/", integration.key_revoke, name="api_key_revoke"
    ),
    path("integration/webhooks/new/", integration.endpoint_create, name="webhook_create"),
    path(
        "integration/webhooks/<int:endpoint_id>/",
        integration.endpoint_deliveries,
        name="webhook_deliveries",
    ),
    path(
        "integration/webhooks/<int:endpoint_id>/created/",
        integration.endpoint_created,
        name="webhook_created",
    ),
    path(
        "integration/webhooks/<int:endpoint_id>/disable/",
        integration.endpoint_disable,
        name="webhook_disable",
    ),
    path(
        "integration/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
        integration.delivery_redeliver,
        name="webhook_redeliver",
    ),
    # members: look-up, profile, history, purchases and returns, adjustments
    path("members/", members.member_search, name="members"),
    path("members/<str:number>/", members.member_detail, name="member"),
    path("members/<str:number>/history/", members.member_history, name="member_history"),
    path("members/<str:number>/adjust/", members.member_adjust, name="member_adjust"),
    path(
        "members/<str:number>/purchases/<int:purchase_id>/",
        members.purchase_detail,
        name="purchase",
    ),
    # settlement: the live position, statements and the transactions behind a line
    path("settlement/", settlement.overview, name="settlement"),
    path("settlement/periods/<int:number>/", settlement.statement, name="statement"),
    path(
        "settlement/periods/<int:number>/lines/<int:line_id>/",
        settlement.line_transactions,
        name="statement_line",
    ),
    # the till: vouchers and points payments
    path("till/", till.till_home, name="till"),
    path("till/voucher/", till.voucher, name="till_voucher"),
    path("till/payments/new/", till.payment_new, name="till_payment"),
    path("till/payments/<int:payment_id>/capture/", till.payment_capture, name="till_capture"),
    path("till/payments/<int:payment_id>/void/", till.payment_void, name="till_void"),
    # campaigns
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/pause/", campaigns.campaign_pause, name="campaign_pause"),
    path("campaigns/<int:campaign_id>/resume/", campaigns.campaign_resume, name="campaign_resume"),
    path("campaigns/<int:campaign_id>/end/", campaigns.campaign_end, name="campaign_end"),
    # rewards
    path("rewards/", rewards.reward_list, name="rewards"),
    path("rewards/new/", rewards.reward_create, name="reward_create"),
    path("rewards/<slug:code>/edit/", rewards.reward_edit, name="reward_edit"),
    path("rewards/<slug:code>/retire/", rewards.reward_retire, name="reward_retire"),
    path("rewards/<slug:code>/restore/", rewards.reward_restore, name="reward_restore"),
]
