"""simplejwt's JWTAuthentication, reading the token's user with the compiled primary-key lookup.

The user read is the one query every authenticated API request makes; `get_by_key` runs the SQL
Django would run, compiled once (commandcentral/by_key.py). The checks after the read are
simplejwt's own: its `get_user` runs on a manager-less shim of the user model. Then the token's
generation must be the user's (accounts/tokens.py): that is how every token of a user ends at once.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from commandcentral.core.by_key import get_by_key

from .tokens import is_current


class _ByKeyManager:
    def get(self, **lookup):
        (name, value), = lookup.items()
        model = get_user_model()
        if name not in ("pk", model._meta.pk.name):  # a USER_ID_FIELD other than the key: the ORM
            return model._default_manager.get(**lookup)
        try:
            return get_by_key(model, value)
        except ValidationError:  # not a key at all: no such user (a 401, where the ORM's error was a 500)
            raise model.DoesNotExist from None


class _UserModel:
    """What simplejwt's get_user touches on its user model: `objects.get()` and `DoesNotExist`."""

    objects = _ByKeyManager()

    @property
    def DoesNotExist(self):  # noqa: N802 - the model's attribute name
        return get_user_model().DoesNotExist


class JWTAuthentication(authentication.JWTAuthentication):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _UserModel()

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        # Logout, a password change, a deactivation... bumped the user's generation (accounts/tokens.py).
        if not is_current(validated_token, user):
            raise AuthenticationFailed("Token has been revoked.", code="token_revoked")
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme drf-spectacular declares for simplejwt's class, for this subclass."""

    target_class = JWTAuthentication


class APIKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <prefix>.<secret>`: a service account's key (accounts.ServiceKey).

    The key is found by its prefix among unrevoked keys and checked against its SHA-512 hash in
    constant time; an expired key, a revoked one or one of a deactivated service is a 401. The
    request's user is the service account, `request.auth` the key (throttles count per key).
    """

    keyword = b"api-key"

    def authenticate(self, request):
        from .models import ServiceKey

        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Give the key as: Authorization: Api-Key <key>.", code="api_key_invalid")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid API key.", code="api_key_invalid") from None
        prefix = raw.partition(".")[0]
        key = ServiceKey.objects.filter(prefix=prefix, revoked=False).select_related("service").first()
        if key is None or not key.is_valid(raw):
            raise AuthenticationFailed("Invalid API key.", code="api_key_invalid")
        if key.has_expired:
            raise AuthenticationFailed("This API key has expired.", code="api_key_expired")
        if not key.service.is_active:
            raise AuthenticationFailed("This service account is deactivated.", code="user_inactive")
        return key.service, key

    def authenticate_header(self, request):
        return 'Api-Key realm="api"'


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = APIKeyAuthentication
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A service account's key, sent as `Authorization: Api-Key <key>`. Keys are created "
            "by operators (`manage.py service_key create`, or the admin) and shown once.",
        }
