from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.TokenObtainApi.as_view(), name="api-token"),
    path("auth/token/refresh/", views.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("me/", views.MeApi.as_view(), name="api-me"),
]
