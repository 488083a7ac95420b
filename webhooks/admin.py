from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.web.admin import ReadOnlyAdminMixin, ServiceAdminMixin

from .models import WebhookDelivery, WebhookSubscription
from .services import EDITABLE_FIELDS, subscription_create, subscription_delete, subscription_redeliver, subscription_update


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Through webhooks.services like the API: the URL is checked, the secret is shown once (on add)."""

    list_display = ("url", "project", "active", "cursor", "consecutive_failures", "last_success_at", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "project__name", "project__slug")
    list_select_related = ("project",)
    autocomplete_fields = ("project",)
    readonly_fields = ("deliveries", "paused_reason", "cursor", "consecutive_failures", "next_attempt_at", "last_success_at",
                       "last_failure_at", "created_by", "created_at", "updated_at")
    actions = ["redeliver_selected"]

    @admin.display(description="Delivery attempts")
    def deliveries(self, obj):
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?subscription__id__exact={obj.pk}"
        return format_html('<a href="{}">{} attempts</a>', url, obj.deliveries.count())

    def get_fields(self, request, obj=None):
        editable = ("project", *EDITABLE_FIELDS)
        return editable if obj is None else (*editable, *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("project", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        if not change:
            created = subscription_create(project=form.cleaned_data["project"], actor=request.user, **values)
            self.adopt(obj, created)
            self.message_user(request, f"Signing secret (shown once): {created.secret}", messages.WARNING)
            return
        changed = {name: value for name, value in values.items() if name in form.changed_data}
        if changed:
            subscription_update(subscription=WebhookSubscription.objects.get(pk=obj.pk), actor=request.user, **changed)

    def save_related(self, request, form, formsets, change):
        pass  # deliveries are read-only

    def delete_model(self, request, obj):
        subscription_delete(subscription=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            self.delete_model(request, subscription)

    @admin.action(description="Deliver again from where delivery stands (resumes paused ones)")
    def redeliver_selected(self, request, queryset):
        for subscription in queryset:
            subscription_redeliver(subscription=subscription, actor=request.user)
        self.message_user(request, f"Redelivery queued for {queryset.count()} subscription(s).", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("attempted_at", "subscription", "leaf_index", "event_name", "attempt", "status_code", "duration_ms",
                    "succeeded")
    list_filter = ("succeeded", "attempted_at", "subscription")
    search_fields = ("subscription__url", "event_name", "message_id")
    list_select_related = ("subscription",)
