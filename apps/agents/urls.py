from django.urls import path

from . import views

app_name = "agents"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.assistant_create, name="assistant-create"),
    path("<int:pk>/", views.assistant_edit, name="assistant-edit"),
    path("<int:pk>/delete/", views.assistant_delete, name="assistant-delete"),
    path("<int:pk>/default/", views.assistant_make_default, name="assistant-default"),
    path("<int:pk>/active/", views.assistant_set_active, name="assistant-active"),
    path("settings/", views.settings_save, name="settings"),
    path("numbers/<int:pk>/assistant/", views.connection_assistant, name="connection-assistant"),
    path("providers/", views.providers, name="providers"),
    path("providers/new/", views.provider_create, name="provider-create"),
    path("providers/<int:pk>/", views.provider_edit, name="provider-edit"),
    path("providers/<int:pk>/delete/", views.provider_delete, name="provider-delete"),
    path("providers/<int:pk>/test/", views.provider_test, name="provider-test"),
    path("activity/", views.activity, name="activity"),
    path("activity/<int:pk>/", views.decision_detail, name="decision"),
    path("usage/", views.usage, name="usage"),
    path("conversations/<int:pk>/summary/", views.conversation_summary, name="conversation-summary"),
]
