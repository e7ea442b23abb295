from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list_page, name="list"),
    path("dropdown/", views.notification_dropdown, name="dropdown"),
    path("count/", views.notification_count, name="count"),
    path("read/", views.notification_read, name="read"),
    path("<int:pk>/open/", views.notification_open, name="open"),
]
