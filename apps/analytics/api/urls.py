from django.urls import path

from . import views

urlpatterns = [
    path("overview", views.OverviewApi.as_view(), name="api-analytics-overview"),
]
