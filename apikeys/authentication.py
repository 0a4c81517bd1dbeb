"""DRF authentication by ``Authorization: Bearer <key>``."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from apikeys.models import ApiKey


class ApiKeyPrincipal:
    """``request.user`` of a request made with an API key: not a Django user, no
    Django permissions; what it may do is its key's scopes."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.pk = None

    def __str__(self):
        return f"API key {self.api_key.prefix}"

    def has_perm(self, perm, obj=None) -> bool:
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>`` for an unrevoked ``ApiKey``.

    No header: not this scheme (``None``), so the permission answers 401 with
    ``WWW-Authenticate: Bearer``. A key that is wrong or revoked: 401 at once. Keys are
    looked up on every request, so a revoked key stops working at once; its
    ``last_used_at`` is written at most once per ``JOBQUEUE_API_KEY_TOUCH_INTERVAL``.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw_key = raw_key.strip()
        if not raw_key or " " in raw_key:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; send 'Bearer <key>'.")
        api_key = ApiKey.find_active(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key.record_use(timezone.now())
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="jobqueue"'
