from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("canned-replies", views.CannedReplyViewSet, basename="api-canned-reply")

urlpatterns = [
    path("conversations/", views.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<int:pk>/", views.ConversationDetailApi.as_view(), name="api-conversation"),
    path("conversations/<int:pk>/assign/", views.ConversationAssignApi.as_view(), name="api-conversation-assign"),
    path("conversations/<int:pk>/status/", views.ConversationStatusApi.as_view(), name="api-conversation-status"),
    path("conversations/<int:pk>/bot/pause/", views.ConversationBotPauseApi.as_view(),
         name="api-conversation-bot-pause"),
    path("conversations/<int:pk>/bot/resume/", views.ConversationBotResumeApi.as_view(),
         name="api-conversation-bot-resume"),
    path("conversations/<int:pk>/read/", views.ConversationReadApi.as_view(), name="api-conversation-read"),
    path("conversations/<int:pk>/messages/", views.ConversationMessagesApi.as_view(),
         name="api-conversation-messages"),
    path("messages/<int:pk>/retry/", views.MessageRetryApi.as_view(), name="api-message-retry"),
    path("", include(router.urls)),
]
