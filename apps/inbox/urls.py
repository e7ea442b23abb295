from django.urls import path

from . import views

app_name = "inbox"
urlpatterns = [
    path("", views.inbox, name="index"),
    path("list/", views.conversation_list, name="conversation-list"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation-detail"),
    path("c/<int:pk>/row/", views.conversation_row, name="conversation-row"),
    path("c/<int:pk>/panel/", views.contact_panel, name="contact-panel"),
    path("c/<int:pk>/messages/", views.message_list, name="message-list"),
    path("c/<int:pk>/send/", views.message_send_view, name="message-send"),
    path("c/<int:pk>/assign/", views.conversation_assign_view, name="conversation-assign"),
    path("c/<int:pk>/status/", views.conversation_status_view, name="conversation-status"),
    path("c/<int:pk>/bot/pause/", views.conversation_bot_view, {"action": "pause"}, name="conversation-bot-pause"),
    path("c/<int:pk>/bot/resume/", views.conversation_bot_view, {"action": "resume"}, name="conversation-bot-resume"),
    path("c/<int:pk>/read/", views.conversation_read_view, name="conversation-read"),
    path("m/<int:pk>/", views.message_detail, name="message-detail"),
    path("m/<int:pk>/retry/", views.message_retry_view, name="message-retry"),
    path("canned/", views.canned_list, name="canned"),
    path("canned/<int:pk>/edit/", views.canned_edit, name="canned-edit"),
    path("canned/<int:pk>/delete/", views.canned_delete, name="canned-delete"),
]
