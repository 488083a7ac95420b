"""Where the delivery task was first defined: runs queued under this path still find it here.

The task itself lives with the run it starts, in webhooks.delivery.
"""

from .delivery import deliver_subscription  # noqa: F401
