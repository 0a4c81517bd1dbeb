"""Periodic schedules in the admin: the list with each schedule's next and last run, a
form to add one, and enable/disable/delete buttons. Everything goes through
``jobs.schedule_services``, so it works on every store; ``ScheduleRecord`` only gives
the pages their place, URLs and permissions (``jobs.view_schedulerecord``,
``add_``, ``change_`` and ``delete_schedulerecord``)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from jobs import schedule_services
from jobs.errors import JobValidationError, ScheduleExists, ScheduleNotFound, flatten_errors
from jobs.models import ScheduleRecord


class ScheduleForm(forms.Form):
    """The add form; the services validate (the same checks as ``POST /schedules``)."""

    name = forms.CharField(max_length=100)
    type = forms.CharField(max_length=100)
    payload = forms.JSONField(initial=dict, required=False)
    cron = forms.CharField(max_length=200, help_text="Five fields, e.g. */5 * * * *, or @hourly, @daily…")
    timezone = forms.CharField(max_length=64, initial="UTC")
    queue = forms.CharField(max_length=64, initial="default")
    priority = forms.IntegerField(initial=0)
    enabled = forms.BooleanField(initial=True, required=False)


@admin.register(ScheduleRecord)
class ScheduleRecordAdmin(admin.ModelAdmin):
    """Schedules, whichever store holds them; the views never query ``ScheduleRecord``."""

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("", view(self.list_view), name=f"{prefix}_changelist"),
            path("add/", view(self.add_schedule_view), name=f"{prefix}_add"),
            path("<str:name>/toggle/", view(require_POST(self.toggle_view)), name=f"{prefix}_toggle"),
            path("<str:name>/delete/", view(require_POST(self.remove_view)), name=f"{prefix}_delete"),
        ]

    def _url(self, name: str, *args) -> str:
        return reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def _render(self, request, template: str, **context):
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.opts, "app_label": self.opts.app_label, **context},
        )

    def list_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._render(
            request,
            "admin/jobs/schedule_list.html",
            title="Schedules",
            schedules=schedule_services.list_schedules(),
            can_add=self.has_add_permission(request),
            can_change=self.has_change_permission(request),
            can_delete=self.has_delete_permission(request),
            add_url=self._url("add"),
        )

    def add_schedule_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ScheduleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                data = {**form.cleaned_data, "payload": form.cleaned_data["payload"] or {}}
                schedule = schedule_services.create_schedule(data)
            except JobValidationError as refusal:
                for field, problems in flatten_errors(refusal.errors).items():
                    top = field.split(".")[0]
                    form.add_error(top if top in form.fields else None, [f"{field}: {problem}" for problem in problems])
            except ScheduleExists as refusal:
                form.add_error("name", str(refusal))
            else:
                self.log_addition(request, ScheduleRecord(name=schedule.name), [{"added": {}}])
                self.message_user(request, f"Schedule “{schedule.name}” added.", messages.SUCCESS)
                return HttpResponseRedirect(self._url("changelist"))
        return self._render(request, "admin/jobs/schedule_form.html", title="Add schedule", form=form)

    def toggle_view(self, request, name: str):
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            current = schedule_services.get_schedule(name)
            updated = schedule_services.update_schedule(name, {"enabled": not current.enabled})
        except ScheduleNotFound as missing:
            self.message_user(request, f"Nothing was changed: {missing}.", messages.WARNING)
        else:
            state = "enabled" if updated.enabled else "disabled"
            self.log_change(request, ScheduleRecord(name=name), f"Schedule {state}.")
            self.message_user(request, f"Schedule “{name}” {state}.", messages.SUCCESS)
        return HttpResponseRedirect(self._url("changelist"))

    def remove_view(self, request, name: str):
        if not self.has_delete_permission(request):
            raise PermissionDenied
        try:
            schedule_services.delete_schedule(name)
        except ScheduleNotFound as missing:
            self.message_user(request, f"Nothing was deleted: {missing}.", messages.WARNING)
        else:
            self.log_deletions(request, [ScheduleRecord(name=name)])
            self.message_user(request, f"Schedule “{name}” deleted.", messages.SUCCESS)
        return HttpResponseRedirect(self._url("changelist"))
