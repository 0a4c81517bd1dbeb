"""Middleware of the project's own."""

import functools

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import SimpleLazyObject, empty


@functools.cache
def _excluded_prefixes(setting_name: str) -> tuple[str, ...] | None:
    """The ``EXCLUDE_URL_PREFIXES`` of a django-csp policy setting; ``None`` when that policy is unset.

    Read once (reading the settings on every response was a fiftieth of the web server's
    CPU per ``POST /jobs``), and again after a test changes a policy.
    """
    policy = getattr(settings, setting_name, None)
    if not policy:
        return None
    return tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ())


@receiver(setting_changed)
def _forget_excluded_prefixes(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _excluded_prefixes.cache_clear()


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


class LazyMessageMiddleware(MessageMiddleware):
    """Django's ``MessageMiddleware``, building a request's message storage only when
    something reads or adds a message.

    The default storage (a cookie storage and a session storage) was built for every API
    request, which never uses messages: a fiftieth of the web server's CPU per
    ``POST /jobs``. A storage nobody touched has nothing to save, so skipping its
    ``update`` leaves the response exactly as Django's middleware would.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
