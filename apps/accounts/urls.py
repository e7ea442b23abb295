from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("password-reset/complete/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password-reset-confirm"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.password_change, name="password-change"),
    path("team/", views.team, name="team"),
    path("team/invitations/", views.invitation_create, name="invitation-create"),
    path("team/invitations/<int:pk>/resend/", views.invitation_resend, name="invitation-resend"),
    path("team/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("team/members/<int:pk>/role/", views.member_role, name="member-role"),
    path("team/members/<int:pk>/active/", views.member_active, name="member-active"),
    path("team/teams/", views.team_create, name="team-create"),
    path("team/teams/<int:pk>/", views.team_update, name="team-update"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation-accept"),
]
