"""URLs of the member portal, on the coalition's public host under ``/portal/``."""

from django.urls import path

from loyalty_web.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("join/", views.join, name="join"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/code/", views.sign_in_code, name="sign_in_code"),
    path("sign-in/link/", views.sign_in_link, name="sign_in_link"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("sign-out/everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
]
