"""The access policy of every API view that clients call with a key."""

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
