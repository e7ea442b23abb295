from django.urls import path

from . import views

urlpatterns = [
    path("documents/", views.DocumentListApi.as_view(), name="api-knowledge-documents"),
    path("documents/<int:pk>/", views.DocumentDetailApi.as_view(), name="api-knowledge-document"),
    path("documents/<int:pk>/reingest/", views.DocumentReingestApi.as_view(), name="api-knowledge-document-reingest"),
    path("search", views.KnowledgeSearchApi.as_view(), name="api-knowledge-search"),
]
