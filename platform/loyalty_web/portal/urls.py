"""URLs of the member portal, on the coalition's public host under ``/portal/``."""

from django.urls import path

from loyalty_web.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-out/", views.sign_out, name="sign_out"),
]
