from django.urls import path

from . import webhooks

app_name = "hooks"
urlpatterns = [
    path("<str:provider>/<str:key>/", webhooks.receive, name="receive"),
]
