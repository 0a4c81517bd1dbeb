"""The access policy of every API view that clients call with a key."""

from django.conf import settings
from rest_framework.authentication import SessionAuthentication

from apikeys.authentication import ApiKeyAuthentication
from apikeys.permissions import HasApiScope
from apikeys.throttling import EnqueueRateThrottle, ReadRateThrottle


class ApiAccess:
    """View mixin: who may call the view (an API key with the action's scope, or staff
    with the matching permission; ``JOBQUEUE_API_AUTH=open`` lets anyone), throttled
    per client. ``/jobs``, ``/stats`` and ``/metrics`` share it."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasApiScope]
    throttle_classes = [EnqueueRateThrottle, ReadRateThrottle]

    def perform_authentication(self, request):
        """Authenticate now, as DRF does, unless the request carries no credentials.

        Without an ``Authorization`` header or a session cookie every authentication
        class answers "nobody" and none can fail, so the answer is left to DRF's lazy
        path (the first read of ``request.user``): an open API's ``POST /jobs`` never
        asks, and authenticating it anyway was a twelfth of its CPU.
        """
        if "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
            super().perform_authentication(request)
