"""Who may do what through the API.

``JOBQUEUE_API_AUTH`` is ``required`` (the default) or ``open``. Required: a request
needs an API key with the scope of its action, or a logged-in staff user with the
matching Django permission on jobs. Open: anyone may do anything (the quick start).

Scopes: ``read`` for GET, ``enqueue`` for ``POST /jobs``, ``manage`` for any action on an
existing job. A view may name an action's scope in ``required_scopes``.
"""

from django.conf import settings
from rest_framework import exceptions, permissions

from apikeys.authentication import ApiKeyPrincipal
from apikeys.models import Scope

OPEN = "open"
REQUIRED = "required"

#: The Django permission a staff user needs for each scope (the admin's own).
STAFF_PERMISSIONS = {
    Scope.READ: "jobs.view_jobrecord",
    Scope.ENQUEUE: "jobs.add_jobrecord",
    Scope.MANAGE: "jobs.change_jobrecord",
}


def api_is_open() -> bool:
    return settings.JOBQUEUE_API_AUTH == OPEN


def required_scope(request, view) -> str:
    """The scope of this request: the view's ``required_scopes[action]``, else by method."""
    action = getattr(view, "action", None)
    named = getattr(view, "required_scopes", {}).get(action)
    if named:
        return named
    if request.method in permissions.SAFE_METHODS:
        return Scope.READ
    return Scope.ENQUEUE if request.method == "POST" and action in (None, "create") else Scope.MANAGE


def client_scope(request) -> str:
    """Who sent the request, as a stable id for throttles and idempotency keys: an API
    key, a user, or (open API, anonymous) the client's address."""
    if isinstance(request.user, ApiKeyPrincipal):
        return f"key:{request.user.api_key.pk}"
    if request.user is not None and getattr(request.user, "is_authenticated", False):
        return f"user:{request.user.pk}"
    return f"addr:{request.META.get('REMOTE_ADDR', '')}"


class HasApiScope(permissions.BasePermission):
    """The request's scope is granted (or the API is open)."""

    def has_permission(self, request, view) -> bool:
        if api_is_open():
            return True
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            raise exceptions.NotAuthenticated(
                "Authentication required: send 'Authorization: Bearer <key>' (see python manage.py createapikey)."
            )
        scope = required_scope(request, view)
        if isinstance(user, ApiKeyPrincipal):
            if not user.api_key.has_scope(scope):
                raise exceptions.PermissionDenied(f"This API key lacks the '{scope}' scope.")
            return True
        if user.is_staff and user.has_perm(STAFF_PERMISSIONS[scope]):
            return True
        raise exceptions.PermissionDenied(
            f"Your account lacks the '{STAFF_PERMISSIONS[scope]}' permission (needed for '{scope}')."
        )


def check_enqueue_limits(request, job_type: str, priority: int) -> None:
    """Refuse (403, naming the limit) a job the request's API key may not enqueue."""
    if api_is_open() or not isinstance(request.user, ApiKeyPrincipal):
        return
    api_key = request.user.api_key
    if not api_key.allows_type(job_type):
        raise exceptions.PermissionDenied(
            f"This API key may not enqueue '{job_type}' jobs; it may enqueue: {', '.join(api_key.job_types)}."
        )
    if not api_key.allows_priority(priority):
        raise exceptions.PermissionDenied(
            f"This API key may not enqueue at priority {priority}; its maximum priority is {api_key.max_priority}."
        )
