"""URLs of the member portal, on the coalition's public host under ``/portal/``."""

from django.urls import path

from loyalty_web.portal import give, history, notifications, profile, rewards, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("join/", views.join, name="join"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/code/", views.sign_in_code, name="sign_in_code"),
    path("sign-in/link/", views.sign_in_link, name="sign_in_link"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("sign-out/everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("history/", history.history, name="history"),
    path("lots/", history.lots, name="lots"),
    path("rewards/", rewards.rewards, name="rewards"),
    path("rewards/<int:entry_id>/", rewards.reward_redeem, name="reward_redeem"),
    path("vouchers/", rewards.vouchers, name="vouchers"),
    path("vouchers/<slug:partner_slug>/<str:code>/", rewards.voucher, name="voucher"),
    path(
        "vouchers/<slug:partner_slug>/<str:code>/cancel/",
        rewards.voucher_cancel,
        name="voucher_cancel",
    ),
    path("give/", give.give, name="give"),
    path("give/charities/<slug:slug>/", give.donate, name="donate"),
    path("give/transfer/", give.transfer, name="transfer"),
    path("household/", give.household, name="household"),
    path("household/create/", give.household_start, name="household_create"),
    path("household/invite/", give.household_send_invite, name="household_invite"),
    path(
        "household/invites/<int:invite_id>/accept/", give.household_accept, name="household_accept"
    ),
    path("household/leave/", give.household_quit, name="household_leave"),
    path("household/pool/", give.household_pool_points, name="household_pool"),
    path("profile/", profile.profile, name="profile"),
    path(
        "profile/notifications/",
        notifications.notifications_save,
        name="notifications_save",
    ),
    path("unsubscribe/<str:token>/", notifications.unsubscribe, name="unsubscribe"),
    path("privacy/", profile.privacy, name="privacy"),
    path("privacy/<slug:kind>/", profile.privacy_request, name="privacy_request"),
    path("privacy/export/confirm/", profile.export_confirm, name="export_confirm"),
    path("privacy/erase/confirm/", profile.erase_confirm, name="erase_confirm"),
]
