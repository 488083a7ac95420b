"""Auth endpoints: register, login, refresh, logout, me (simplejwt underneath)."""

from django.contrib.auth import authenticate, get_user_model, user_logged_in
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from core.access import can_steer, visible_projects
from core.errors import require
from core.recording import AuditEventType
from core.api.schema import errors
from core.api.support import LimitOffsetPagination, parse_uuid, visible_project_or_404

from .invitations import invitation_create, invitation_revoke
from .models import Invitation
from .registration import register

from .tokens import SessionRefreshToken, end_sessions, is_current
from .throttles import AnonRateThrottle, InvitationThrottle, LoginThrottle, UserRateThrottle
from .serializers import (
    InvitationSerializer,
    InvitationWriteSerializer,
    LoginSerializer,
    MeSerializer,
    MessageSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)

User = get_user_model()


def _token_pair(refresh: SessionRefreshToken) -> dict:
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "bearer",
        "expires_in": int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    }


def _load_refresh(raw: str) -> SessionRefreshToken:
    """A refresh token with a valid signature, of an active user (its `user`), or 401.

    Whether it was spent or revoked is the caller's to check (refresh and logout differ there).
    """
    try:
        refresh = SessionRefreshToken(raw)
    except TokenError as error:
        raise AuthenticationFailed(str(error), code="token_not_valid")
    user = User.objects.filter(pk=refresh.get(jwt_settings.USER_ID_CLAIM)).first()
    # simplejwt 5.5.1 answers 500 for a deleted user (#860); an inactive one must not refresh either.
    if user is None or not user.is_active:
        raise AuthenticationFailed("No active account found for this token.", code="user_inactive")
    refresh.user = user
    return refresh


def _revoked() -> AuthenticationFailed:
    return AuthenticationFailed("Token has been revoked.", code="token_revoked")


class AuthView(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonRateThrottle, LoginThrottle]

    def get_authenticate_header(self, request):
        # No authenticator runs here, but a refused login or token is still a 401 with a challenge.
        return 'Bearer realm="api"'


class RegisterView(AuthView):
    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer, **errors(400, 403)}, tags=["auth"],
                   description="Creates an account. An address that already has one gets the same answer (201, "
                   "the same fields) and nothing changes: the answer never says which addresses are registered. "
                   "With `SIGNUP=invite` only an address holding a pending invitation may register; any other "
                   "gets 403 (recorded), whether or not it has an account.")
    def post(self, request):
        payload = RegisterSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = register(email=data["email"], password=data["password"], name=data.get("name", ""))
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(AuthView):
    @extend_schema(request=LoginSerializer, responses={200: TokenPairSerializer, **errors(400)}, tags=["auth"])
    def post(self, request):
        payload = LoginSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        # authenticate() sends user_login_failed on failure → an auth_failed audit row.
        user = authenticate(request._request, email=payload.validated_data["email"].lower(),
                            password=payload.validated_data["password"])
        if user is None:
            raise AuthenticationFailed("Invalid email or password.")
        request._request.auth_via = "jwt"
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        return Response(_token_pair(SessionRefreshToken.for_user(user)))


class RefreshView(AuthView):
    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer, **errors(400)}, tags=["auth"])
    def post(self, request):
        """Rotation: the refresh token is spent and a new pair is issued. A refresh token works once;
        presenting a spent one again revokes every token of its user (RFC 9700 §4.14.2) and is audited."""
        payload = RefreshSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        old = _load_refresh(payload.validated_data["refresh_token"])
        if not is_current(old, old.user):
            raise _revoked()  # ended by logout, a password change...; spending it would change nothing
        if not old.spend():
            # Spent by an earlier or a concurrent request: a replay, from a thief or from the user.
            end_sessions(old.user, event_name="auth.refresh_reuse", event_type=AuditEventType.AUTH_FAILED,
                         success=False, reason="A refresh token was presented again after it was rotated; every token of this user is revoked.")
            raise _revoked()
        return Response(_token_pair(SessionRefreshToken.for_user(old.user)))


class LogoutView(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=RefreshSerializer, responses={200: MessageSerializer, **errors(400, 403)}, tags=["auth"])
    def post(self, request):
        """Ends every API token of the caller at once: access and refresh tokens, on every device.
        Browser sessions stay (see `auth/logout/everywhere/`)."""
        payload = RefreshSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        refresh = _load_refresh(payload.validated_data["refresh_token"])
        if refresh.user.pk != request.user.pk:
            raise AuthenticationFailed("This refresh token belongs to another user.")
        refresh.spend()  # already spent or revoked is fine: logging out twice ends nothing new
        request._request.auth_via = "jwt"
        end_sessions(request.user, event_name="auth.logout", actor=request.user, reason="Logged out.", via="jwt")
        return Response({"message": "Logged out; every API token of this account is revoked."})


class LogoutEverywhereView(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=None, responses={200: MessageSerializer, **errors(403)}, tags=["auth"])
    def post(self, request):
        """Ends every API token and every browser session of the caller."""
        via = "jwt" if request.auth is not None else "session"
        end_sessions(request.user, event_name="auth.logout_everywhere", actor=request.user, browsers=True,
                     reason="Logged out everywhere.", via=via)
        return Response({"message": "Logged out everywhere; every token and browser session of this account has ended."})


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer, **errors()}, tags=["auth"])
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class ProjectInvitationsView(APIView):
    """A project's invitations; its owner and operators only (others who see it: 403, recorded)."""

    throttle_classes = [UserRateThrottle]

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, InvitationThrottle()] if self.request.method == "POST" else throttles

    @extend_schema(summary="List a project's invitations", tags=["invitations"],
                   responses={200: InvitationSerializer(many=True), **errors(403, 404)})
    def get(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        require(can_steer(project, request.user), actor=request.user, obj=project, action="invitation_list",
                message="Only the project's owner and operators may see its invitations.")
        invitations = Invitation.objects.filter(project=project).select_related("invited_by")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(invitations, request, view=self)
        return paginator.get_paginated_response(InvitationSerializer(page, many=True).data)

    @extend_schema(summary="Invite someone to the project by email", tags=["invitations"],
                   description="Mails `email` a link (valid 7 days, usable once) to join as `role`. "
                   "Refused (400) for someone already on the team or already invited.",
                   request=InvitationWriteSerializer, responses={201: InvitationSerializer, **errors(400, 403, 404, 409)})
    def post(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        payload = InvitationWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        invitation = invitation_create(project=project, actor=request.user, site=request.build_absolute_uri("/"),
                                       **payload.validated_data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationView(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(summary="Revoke a pending invitation", tags=["invitations"], responses={204: None, **errors(403, 404, 409)})
    def delete(self, request, pk):
        key = parse_uuid(pk)
        invitation = (Invitation.objects.filter(pk=key, project__in=visible_projects(request.user))
                      .select_related("project").first() if key else None)
        if invitation is None:
            raise Http404("No such invitation.")
        invitation_revoke(invitation=invitation, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
