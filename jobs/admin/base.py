"""What every jobs admin view shares: its ModelAdmin, the permission it needs, the admin's context."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.views.generic import TemplateView, View


class JobAdminMixin:
    """A view of ``model_admin`` (a ``JobRecordAdmin``, given to ``as_view``).

    ``permission`` is ``"view"`` or ``"change"``: without it a staff user gets 403 (the
    site's ``admin_view`` has already sent anyone else to the login page).
    """

    model_admin = None
    permission = "view"

    def dispatch(self, request, *args, **kwargs):
        allowed = {
            "view": self.model_admin.has_view_permission,
            "change": self.model_admin.has_change_permission,
        }[self.permission]
        if not allowed(request):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def message(self, text: str, level: int = messages.INFO) -> None:
        self.model_admin.message_user(self.request, text, level)

    def redirect_to(self, name: str, *args) -> HttpResponseRedirect:
        """A redirect to one of the admin's job views, or to the dashboard (``name="dashboard"``)."""
        if name == "dashboard":
            return HttpResponseRedirect(self.model_admin.dashboard_url())
        return HttpResponseRedirect(self.model_admin.url(name, *args))

    def job_missing(self, object_id: str) -> HttpResponseRedirect:
        """Back to the list, saying that no job has this id (as the admin says for a missing object)."""
        self.message(f"Job with ID “{object_id}” does not exist. Perhaps it was deleted?", messages.WARNING)
        return self.redirect_to("changelist")


class JobAdminPage(JobAdminMixin, TemplateView):
    """A page of the jobs admin, rendered in the admin's frame."""

    title = ""

    def get_context_data(self, **kwargs):
        return {
            **self.model_admin.admin_context(self.request),
            "title": self.title,
            **super().get_context_data(**kwargs),
        }


class JobAdminAction(JobAdminMixin, View):
    """An operator action (POST, CSRF-checked by Django's middleware) that changes jobs."""

    permission = "change"
