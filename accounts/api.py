"""Auth endpoints: register, login, refresh, logout, me (simplejwt underneath)."""

from django.contrib.auth import authenticate, get_user_model, user_logged_in, user_logged_out
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from commandcentral.core.recording import audited_write
from commandcentral.api.schema import errors

from .throttles import AnonRateThrottle, LoginThrottle, UserRateThrottle
from .serializers import (
    LoginSerializer,
    MessageSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)

User = get_user_model()


def _token_pair(refresh: RefreshToken) -> dict:
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "bearer",
        "expires_in": int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    }


def _load_refresh(raw: str) -> RefreshToken:
    """A valid, un-blacklisted refresh token of an active user, or 401."""
    try:
        refresh = RefreshToken(raw)
    except TokenError as error:
        raise AuthenticationFailed(str(error), code="token_not_valid")
    user = User.objects.filter(pk=refresh.get(jwt_settings.USER_ID_CLAIM)).first()
    # simplejwt 5.5.1 answers 500 for a deleted user (#860); an inactive one must not refresh either.
    if user is None or not user.is_active:
        raise AuthenticationFailed("No active account found for this token.", code="user_inactive")
    refresh.user = user
    return refresh


class AuthView(APIView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonRateThrottle, LoginThrottle]

    def get_authenticate_header(self, request):
        # No authenticator runs here, but a refused login or token is still a 401 with a challenge.
        return 'Bearer realm="api"'


class RegisterView(AuthView):
    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer, **errors(400)}, tags=["auth"])
    def post(self, request):
        payload = RegisterSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            with audited_write(None):
                user = User.objects.create_user(data["email"], data["password"], name=data.get("name", ""))
        except IntegrityError:
            # Another registration of this email committed between the check and the INSERT (the
            # unique index decides): the same answer the check gives, and nothing of this one is kept.
            raise ValidationError({"email": ["A user with this email already exists."]}) from None
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
        return Response(_token_pair(RefreshToken.for_user(user)))


class RefreshView(AuthView):
    @extend_schema(request=RefreshSerializer, responses={200: TokenPairSerializer, **errors(400)}, tags=["auth"])
    def post(self, request):
        payload = RefreshSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        old = _load_refresh(payload.validated_data["refresh_token"])
        # Rotation: the old refresh token is spent (blacklisted) and a new pair is issued.
        old.blacklist()
        return Response(_token_pair(RefreshToken.for_user(old.user)))


class LogoutView(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=RefreshSerializer, responses={200: MessageSerializer, **errors(400, 403)}, tags=["auth"])
    def post(self, request):
        """Blacklists the refresh token. The access token stays valid until it expires (JWT_ACCESS_MINUTES)."""
        payload = RefreshSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        refresh = _load_refresh(payload.validated_data["refresh_token"])
        if refresh.user.pk != request.user.pk:
            raise AuthenticationFailed("This refresh token belongs to another user.")
        refresh.blacklist()
        request._request.auth_via = "jwt"
        user_logged_out.send(sender=type(request.user), request=request._request, user=request.user)
        return Response({"message": "Logged out; the refresh token is revoked."})


class MeView(APIView):
    @extend_schema(responses={200: UserSerializer, **errors()}, tags=["auth"])
    def get(self, request):
        return Response(UserSerializer(request.user).data)
