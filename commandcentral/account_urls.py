"""The account pages: the account page, password change and reset (Django's views), invitations."""

from django.urls import path

from accounts import views as account_views

from . import invitation_pages

urlpatterns = [
    path("signup/", account_views.sign_up, name="signup"),
    path("account/", account_views.account, name="account"),
    path("account/password/", account_views.PasswordChangeView.as_view(), name="password_change"),
    path("password-reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/done/", account_views.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", account_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", account_views.password_reset_complete, name="password_reset_complete"),
    path("projects/<uuid:pk>/invitations/", account_views.invite, name="project_invite"),
    path("invitations/<uuid:pk>/revoke/", account_views.revoke, name="invitation_revoke"),
    path("invitations/<str:token>/", invitation_pages.invitation_page, name="invitation"),
]
