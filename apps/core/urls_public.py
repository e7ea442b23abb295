from django.urls import path

from . import views_public

app_name = "public"
urlpatterns = [
    path("", views_public.landing, name="landing"),
    path("sign-in/", views_public.company_sign_in, name="sign-in"),
]
