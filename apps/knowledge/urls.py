from django.urls import path

from . import views

app_name = "knowledge"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.document_new, name="document-new"),
    path("search/", views.search, name="search"),
    path("<int:pk>/edit/", views.document_edit, name="document-edit"),
    path("<int:pk>/reingest/", views.document_reingest, name="document-reingest"),
    path("<int:pk>/delete/", views.document_delete, name="document-delete"),
    path("<int:pk>/status/", views.document_status, name="document-status"),
]
