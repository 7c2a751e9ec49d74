"""URLs of the merchant console, on a partner's host."""

from django.urls import path

from loyalty_web.console import dashboard, views
from loyalty_web.design.pages import web_view

app_name = "console"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", views.login_page, name="login"),
    path("logout/", views.logout_page, name="logout"),
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
    path("stores/", views.store_list, name="stores"),
]
