"""Signals other apps listen to (the live event stream: a user's unread count changed)."""

from django.dispatch import Signal

# Sent by notifications.services after notifications were marked read, with `user_ids` (a list of the
# recipients whose unread count went down). New notifications need no signal: they only ever get
# higher ids, so a reader watches Notification's largest id instead (notifications.selectors).
notifications_read = Signal()
