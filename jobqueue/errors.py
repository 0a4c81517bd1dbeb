"""Django's error views (``handler400/403/404/500``) answering JSON in the API's shape,
``{"error": "<message>"}``, for every path: a client of the API never has to parse HTML,
whatever went wrong (an unknown path, a bad Host header, a crash)."""

from django.http import JsonResponse


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def bad_request(request, exception=None):
    """400: Django refused the request before any view (a Host not in ALLOWED_HOSTS, too
    many fields, a malformed body). The message stays generic: the reason may name
    headers that the client controls and that the log already records."""
    return _error("Bad request.", 400)


def permission_denied(request, exception=None):
    return _error("Permission denied.", 403)


def page_not_found(request, exception=None):
    return _error(f"Not found: {request.path}", 404)


def server_error(request):
    return _error("Internal server error; it has been logged.", 500)
