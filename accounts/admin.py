from django import forms
from django.contrib import admin, messages

from core.web.admin import ReadOnlyAdminMixin, ServiceAdminMixin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from core.recording import audited_write

from .models import Invitation, ServiceAccount, ServiceKey, User
from .service_accounts import service_account_get_or_create, service_key_create, service_key_revoke
from .tokens import end_sessions


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    ordering = ("email",)
    list_display = ("email", "name", "handle", "is_active", "is_staff", "last_login", "created_at")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "name", "handle")
    readonly_fields = ("last_login", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "handle")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    actions = ["end_every_session"]

    @admin.action(description="End every session and API token of the selected users")
    def end_every_session(self, request, queryset):
        users = list(queryset)
        for user in users:
            end_sessions(user, event_name="auth.sessions_ended", actor=request.user, browsers=True,
                         reason="Ended by an operator.", via="admin")
        self.message_user(request, f"Ended every session and API token of {len(users)} user(s).", messages.SUCCESS)


# djangorestframework-api-key's own key model is unused: our keys belong to a service account.
admin.site.unregister(APIKey)


class ServiceKeyInline(admin.TabularInline):
    model = ServiceKey
    fk_name = "service"
    extra = 0
    fields = readonly_fields = ("prefix", "name", "created", "expiry_date", "revoked", "revoked_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ServiceAccountForm(forms.ModelForm):
    service = forms.RegexField(regex=r"^[a-z0-9][a-z0-9._-]{0,62}$", required=False,
                               help_text="Lowercase letters, digits, '.', '_' or '-', e.g. ci-bot.")

    class Meta:
        model = ServiceAccount
        fields = ("name", "is_active")


@admin.register(ServiceAccount)
class ServiceAccountAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Service accounts: their projects are memberships (Projects → Memberships), their keys below."""

    form = ServiceAccountForm
    list_display = ("email", "name", "is_active", "created_at")
    search_fields = ("email", "name")
    readonly_fields = ("email", "created_at")
    inlines = [ServiceKeyInline]

    def get_fields(self, request, obj=None):
        return ("service", "name") if obj is None else ("email", "name", "is_active", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            created, _ = service_account_get_or_create(name=form.cleaned_data["service"], actor=request.user,
                                                       description=form.cleaned_data.get("name") or "")
            self.adopt(obj, created)
            return
        # Saved as a User, not through the proxy: django-auditlog watches User (and a deactivation
        # ends the account's tokens, accounts.models.User.save).
        user = User._base_manager.get(pk=obj.pk)
        user.name, user.is_active = obj.name, obj.is_active
        with audited_write(request.user):
            user.save()

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the audit trail refers to it


@admin.register(ServiceKey)
class ServiceKeyAdmin(ServiceAdminMixin, APIKeyModelAdmin):
    """Keys are made here or with `manage.py service_key create`, shown once, and revoked, never deleted."""

    list_display = ("prefix", "service", "name", "created", "expiry_date", "_has_expired", "revoked")
    list_filter = ("revoked", "created")
    search_fields = ("prefix", "name", "service__email")
    list_select_related = ("service",)
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        return ("service", "name", "expiry_date") if obj is None else (
            "prefix", "service", "name", "created", "expiry_date", "revoked", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("prefix", "service", "name", "created", "expiry_date", "revoked", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable on an existing key
        key, raw = service_key_create(service=obj.service, name=obj.name, expires_at=obj.expiry_date,
                                      actor=request.user)
        self.adopt(obj, key)
        self.message_user(request, f"The key for {key.service.email} is: {raw} — store it now: it is not shown "
                          "again. Send it as: Authorization: Api-Key <key>.", messages.WARNING)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected keys (for good)")
    def revoke_selected(self, request, queryset):
        keys = list(queryset.select_related("service").filter(revoked=False))
        for key in keys:
            service_key_revoke(key=key, actor=request.user, reason="Revoked in the admin.")
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: inviting and revoking happen on the project's page and in the API (accounts.invitations),
    which check who may and record it."""

    list_display = ("email", "project", "role", "state", "invited_by", "created_at", "expires_at")
    list_filter = ("role",)
    search_fields = ("email", "project__name")
    list_select_related = ("project", "invited_by")
    fields = readonly_fields = ("project", "email", "role", "state", "invited_by", "created_at", "expires_at",
                                "accepted_at", "accepted_by", "revoked_at")

    @admin.display(description="state")
    def state(self, obj):
        return obj.state
