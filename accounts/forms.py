"""The account pages' forms: inviting, joining through an invitation, the account page, password reset."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError

from .recovery import request_password_reset
from .models import HANDLE_MAX_LENGTH, InvitationRole, User


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email of the person to invite", max_length=254)
    role = forms.ChoiceField(choices=InvitationRole.choices, initial=InvitationRole.MEMBER)

    def __init__(self, *args, **kwargs):
        # Ids of its own: the project page shows it next to the team form, whose fields have the same names.
        kwargs.setdefault("auto_id", "id_invitation_%s")
        super().__init__(*args, **kwargs)


class JoinForm(forms.Form):
    """Someone without an account, joining through an invitation: a name and a password."""

    name = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password1 = forms.CharField(label="Password", strip=False, max_length=128,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=password_validators_help_text_html())
    password2 = forms.CharField(label="Password again", strip=False, max_length=128,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class SignUpForm(JoinForm):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    field_order = ["email", "name", "password1", "password2"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and "password2" not in self.errors:
            candidate = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                validate_password(cleaned["password1"], user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    # Checked by the service (accounts.profile), after lowercasing: "Ada" is the handle "ada".
    handle = forms.CharField(max_length=HANDLE_MAX_LENGTH,
                             help_text="2–40 lowercase letters, digits or '-'; others mention you as @handle.")


class NotificationsForm(forms.Form):
    notifications = forms.ChoiceField(choices=User.Notifications.choices, widget=forms.RadioSelect,
                                      label="Notifications")


class PersonalKeyForm(forms.Form):
    name = forms.CharField(max_length=50, help_text="What the key is for, e.g. 'laptop scripts'.")
    expires_in_days = forms.TypedChoiceField(coerce=int, initial=90, label="Expires in", choices=[
        (7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year")])


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form, but the mail is queued for the task worker (accounts.mail), which writes the link
    itself: nothing is sent inside the request, and the answer is the same for any address."""

    def save(self, domain_override=None, subject_template_name=None, email_template_name=None, use_https=False,
             token_generator=None, from_email=None, request=None, html_email_template_name=None,
             extra_email_context=None):
        request_password_reset(email=self.cleaned_data["email"], site=request.build_absolute_uri("/") if request else "")
