"""Middleware of the project's own."""

from csp.middleware import CSPMiddleware
from django.conf import settings


def _excluded_prefixes(setting_name: str) -> tuple[str, ...] | None:
    """The ``EXCLUDE_URL_PREFIXES`` of a django-csp policy setting; ``None`` when that policy is unset."""
    policy = getattr(settings, setting_name, None)
    if not policy:
        return None
    return tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ())


class ExcludingCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, except that a path its settings exclude skips it outright.

    django-csp builds the policy header for every response and only then drops it for an
    excluded prefix; that build was 8% of the web server's CPU under ``POST /jobs`` load.
    Here a response whose path every configured policy excludes (the JSON API: its
    ``EXCLUDE_URL_PREFIXES``) is returned untouched, exactly as django-csp would leave it.
    """

    def process_response(self, request, response):
        path = request.path_info
        enforced = _excluded_prefixes("CONTENT_SECURITY_POLICY")
        report_only = _excluded_prefixes("CONTENT_SECURITY_POLICY_REPORT_ONLY")
        if enforced is not None and path.startswith(enforced) and (report_only is None or path.startswith(report_only)):
            return response
        return super().process_response(request, response)
