"""A person's own settings (the account page): name, handle, notification preferences. Audited as
user.updated rows naming the person as the actor."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from core.errors import InvalidInput
from core.recording import audited_write

from .models import User, validate_handle


def profile_update(*, user: User, **changes) -> User:
    """Change `name`, `handle` or `notifications`; a handle someone else holds is refused."""
    handle = changes.get("handle")
    if handle is not None:
        handle = changes["handle"] = handle.strip().lstrip("@").lower()
        if User._base_manager.filter(handle=handle).exclude(pk=user.pk).exists():
            raise InvalidInput(f"@{handle} is taken; choose another handle.", field="handle")
        try:
            validate_handle(handle)
        except ValidationError as error:
            raise InvalidInput(" ".join(error.messages), field="handle") from None
    if "notifications" in changes and changes["notifications"] not in User.Notifications.values:
        raise InvalidInput("Notifications are none, instant or daily.", field="notifications")
    changed = [field for field, value in changes.items() if getattr(user, field) != value]
    if not changed:
        return user
    try:
        with audited_write(user):
            for field in changed:
                setattr(user, field, changes[field])
            user.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:  # the handle was taken between the check and the write
        user.refresh_from_db()
        raise InvalidInput(f"@{handle} is taken; choose another handle.", field="handle") from None
    return user
