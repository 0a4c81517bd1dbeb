"""API keys in the admin: create (the key is shown once), list by prefix, revoke."""

import logging

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.functional import lazy

from apikeys.models import ApiKey, Scope

logger = logging.getLogger(__name__)


def _last_used_title() -> str:
    # Read when shown, so that the title states the interval in force.
    interval = settings.JOBQUEUE_API_KEY_TOUCH_INTERVAL
    if not interval:
        return "last used"
    return f"last used (to within {interval:g} s)"


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    job_types = forms.CharField(required=False, help_text="comma-separated job types it may enqueue; empty: any type")

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "job_types", "max_priority"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["job_types"] = ", ".join(self.instance.job_types)

    def clean_scopes(self):
        return sorted(self.cleaned_data["scopes"])

    def clean_job_types(self):
        return sorted({item.strip() for item in self.cleaned_data["job_types"].split(",") if item.strip()})


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "scope_list", "type_list", "max_priority", "created_at", "last_used", "status"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used", "revoked_at"]
    actions = ["revoke_keys"]

    @admin.display(description="scopes")
    def scope_list(self, api_key):
        return ", ".join(api_key.scopes)

    @admin.display(description="job types")
    def type_list(self, api_key):
        return ", ".join(api_key.job_types) or "any"

    @admin.display(description=lazy(_last_used_title, str)(), ordering="last_used_at")
    def last_used(self, api_key):
        """Recorded at most once per ``JOBQUEUE_API_KEY_TOUCH_INTERVAL``: the key was last
        used then or up to that much later."""
        return api_key.last_used_at

    @admin.display(description="status")
    def status(self, api_key):
        return f"revoked {api_key.revoked_at:%Y-%m-%d %H:%M}" if api_key.is_revoked else "active"

    def save_model(self, request, obj, form, change):
        if not change:
            raw_key = obj.assign_new_secret()
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                f"The new API key is shown only this once; copy it now: {raw_key}",
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key.revoke()
            self.log_change(request, api_key, "Revoked.")
            logger.info("API key %s revoked by %s", api_key.prefix, request.user)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)
