"""simplejwt's JWTAuthentication, reading the token's user with the compiled primary-key lookup.

The user read is the one query every authenticated API request makes; `get_by_key` runs the SQL
Django would run, compiled once (commandcentral/by_key.py). The checks after the read are
simplejwt's own: its `get_user` runs on a manager-less shim of the user model. Then the token's
generation must be the user's (accounts/tokens.py): that is how every token of a user ends at once.

Both authenticators count their failures per client address (accounts.throttles.FailedAuthThrottle):
past `THROTTLE_AUTH_FAILED`, an address's credentials are refused with 429 before they are decoded.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt.utils import aware_utcnow

from core.by_key import get_by_key
from core.recording import AuditEventType, record_event

from .throttles import FailedAuthThrottle
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


class FailedAttemptsLimited:
    """Counts an authenticator's failures against the client address's budget (FailedAuthThrottle).

    A request that presents this authenticator's kind of credentials from an address over its budget
    is a 429 before the credentials are decoded or looked up. A success costs one cache read and
    counts nothing.

    Audit rows: a failed token or key writes none (as before: the 401 is the answer, and one row per
    guess would let anyone grow the append-only trail at will). The failure that uses up an
    address's budget writes one `auth_failed` row, `auth.throttled`, at most once per address and
    window; the refused attempts after it write nothing, so a flood costs the trail one row a minute.
    """

    via = ""  # what the audit row says was tried

    def presents_credentials(self, request) -> bool:
        raise NotImplementedError

    def authenticate(self, request):
        if not self.presents_credentials(request):
            return None
        throttle = FailedAuthThrottle()
        wait = throttle.refusal_wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait, detail="Too many failed authentications from this address.")
        try:
            return self.authenticate_credentials(request)
        except exceptions.AuthenticationFailed:
            if throttle.note_failure(request):
                record_event(event_type=AuditEventType.AUTH_FAILED, event_name="auth.throttled", success=False,
                             failure_reason=f"Too many failed authentications from this address ({throttle.rate}); "
                             "further attempts are refused until the window has passed.",
                             extra={"via": self.via, "limit": throttle.rate})
            raise

    def authenticate_credentials(self, request):
        """The authenticator's own check: by default the authenticate() of the class it limits."""
        return super().authenticate(request)


class _VerifiedTokens:
    """Access tokens whose signature and claims simplejwt has checked, by their raw bytes (a few thousand).

    A token's signature and its fixed claims are a function of its bytes and the verifying settings,
    so they are checked once; a token's expiry depends on the clock, so it is checked again on every
    use (`check_exp` with the time now, simplejwt's own check and leeway). Revocation is not a property
    of the token: the user's generation is compared with the token's on every request, after this
    (JWTAuthentication.get_user). Verifying an HS256 token cost ~45 µs of every authenticated request,
    a few percent of reading one project (bench/README.md, fourth round).
    """

    size = 4096

    def __init__(self):
        self._tokens: dict = {}

    @staticmethod
    def _key(raw_token: bytes) -> tuple:
        # The settings a verification depends on (read from simplejwt's module: it rebuilds them when
        # SIMPLE_JWT changes): a token checked under other settings is not reused.
        api_settings = jwt_settings.api_settings
        return (raw_token, api_settings.ALGORITHM, api_settings.SIGNING_KEY, api_settings.VERIFYING_KEY,
                api_settings.AUDIENCE, api_settings.ISSUER, api_settings.LEEWAY, tuple(api_settings.AUTH_TOKEN_CLASSES))

    def get(self, raw_token: bytes):
        key = self._key(raw_token)
        token = self._tokens.get(key)
        if token is None:
            return None
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            self._tokens.pop(key, None)  # expired: simplejwt's own check says so, with its own error
            return None
        return token

    def add(self, raw_token: bytes, token) -> None:
        if len(self._tokens) >= self.size:
            self._tokens.clear()  # a flood of distinct valid tokens costs a re-verification, not memory
        self._tokens[self._key(raw_token)] = token


_verified_tokens = _VerifiedTokens()


class JWTAuthentication(FailedAttemptsLimited, authentication.JWTAuthentication):
    via = "jwt"

    def get_validated_token(self, raw_token: bytes):
        token = _verified_tokens.get(raw_token)
        if token is None:
            token = super().get_validated_token(raw_token)  # raises simplejwt's InvalidToken
            _verified_tokens.add(raw_token, token)
        return token

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _UserModel()

    def presents_credentials(self, request) -> bool:
        parts = (self.get_header(request) or b"").split()
        return bool(parts) and parts[0] in authentication.AUTH_HEADER_TYPE_BYTES

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        # Logout, a password change, a deactivation... bumped the user's generation (accounts/tokens.py).
        if not is_current(validated_token, user):
            raise AuthenticationFailed("Token has been revoked.", code="token_revoked")
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme drf-spectacular declares for simplejwt's class, for this subclass."""

    target_class = JWTAuthentication


class APIKeyAuthentication(FailedAttemptsLimited, BaseAuthentication):
    """`Authorization: Api-Key <prefix>.<secret>`: a service account's key, or a person's personal key
    (accounts.ServiceKey; the request's user is whoever the key belongs to).

    The key is found by its prefix among unrevoked keys and checked against its SHA-512 hash in
    constant time; an expired key, a revoked one or one of a deactivated service is a 401. The
    request's user is the service account, `request.auth` the key (throttles count per key).
    """

    keyword = b"api-key"
    via = "api_key"

    def presents_credentials(self, request) -> bool:
        header = get_authorization_header(request).split()
        return bool(header) and header[0].lower() == self.keyword

    def authenticate_credentials(self, request):
        from .models import ServiceKey

        header = get_authorization_header(request).split()
        if len(header) != 2:
            raise AuthenticationFailed("Give the key as: Authorization: Api-Key <key>.", code="api_key_invalid")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid API key.", code="api_key_invalid") from None
        if not raw.isprintable():  # a NUL or control character: no key holds one (and PostgreSQL refuses the lookup)
            raise AuthenticationFailed("Invalid API key.", code="api_key_invalid")
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
            "description": "An API key, sent as `Authorization: Api-Key <key>`: a service account's (created by "
            "operators: `manage.py service_key create`, or the admin) or a person's own personal key (created on "
            "their account page, `/account/`), which acts as that person. Keys are shown once.",
        }
