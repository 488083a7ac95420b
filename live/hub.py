"""The process's one watcher of the ledger, and the open streams it wakes.

Every open stream of a process is served by one `Hub` (one per event loop: uvicorn runs one). Its
watcher is an asyncio task that, every LIVE_STREAM_POLL_INTERVAL seconds, asks the database on a
thread of its own for the leaves sealed since the last one it saw (one indexed query, by primary key),
serializes each row once (`audit.serializers.event_data`, what a webhook delivery sends) and keeps
the last LIVE_STREAM_BUFFER of them in a ring; then it wakes the streams, and each stream picks from
the ring the rows its caller may see. A stream holds no database connection and no thread while it
waits: only when it has fallen behind the ring (a reconnect with an old Last-Event-ID, a slow client)
does it read the rows it missed itself, in bounded batches (`catch_up`).

Who sees what is decided at connect (core.access.visible_projects: the project ids, or everything for
an operator) and decided again, for every connected person at once, when a batch holds a row that can
change it (a project, a membership, a user, a service key, a logout): a member removed from a team
stops receiving its rows from that batch on, and the streams of a deactivated person, or of one whose
sign-ins were ended (logout everywhere, a password change), are closed.

The watcher runs only while streams are open. A database error is logged and retried with back-off,
from the last leaf it saw: nothing is skipped, and a client that reconnects with its Last-Event-ID
gets every row it missed from the database.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.models import Max

logger = logging.getLogger("commandcentral.live")

BATCH = 1000  # leaves read per poll at most; a longer backlog takes the next polls
CATCH_UP_SPAN = 2000  # leaves a stream's catch-up query covers at most
# A row of one of these entity types (or a logout) may change who sees what, or end someone's sign-ins.
ACCESS_ENTITIES = frozenset({"project", "membership", "user", "serviceaccount", "service_key"})
ACCESS_EVENT_TYPES = frozenset({"auth_logout"})


class Event:
    """One sealed row, serialized once for every stream: its message in both forms, as bytes."""

    __slots__ = ("leaf_index", "project_id", "event_name", "data", "named", "change")

    def __init__(self, leaf_index: int, project_id, event_name: str, data: str):
        self.leaf_index = leaf_index
        self.project_id = project_id  # a UUID, or None for rows outside any project (operators only)
        self.event_name = event_name
        self.data = data  # JSON of audit.serializers.event_data
        self.named = f"id: {leaf_index}\nevent: {event_name}\ndata: {data}\n\n".encode()
        self.change = f"id: {leaf_index}\nevent: change\ndata: {data}\n\n".encode()

    def message(self, as_change: bool) -> bytes:
        return self.change if as_change else self.named


def event_of(entry, leaf_index: int) -> Event:
    from audit.serializers import event_data

    data = json.dumps(event_data(entry, leaf_index), separators=(",", ":"), default=str)
    return Event(leaf_index, entry.project_id, entry.event_name, data)


@dataclass(slots=True)
class Access:
    """What a person may see now, and what their open streams were authenticated with."""

    active: bool
    scope: frozenset | None = None  # None: every row (an operator)
    token_generation: int = 0
    session_generation: int = 0


@dataclass(eq=False, slots=True)
class Stream:
    """One open connection: whose it is, what it may see, and what wakes it."""

    user_id: object
    scope: frozenset | None  # visible project ids, None for every row
    project_id: object = None  # ?project=: only this project's rows
    via: str = ""  # jwt, session, api_key: which end of sign-ins closes it
    generation: int = 0  # the token or session generation it was opened with
    key_id: object = None  # the API key it was opened with
    opened_at: int = -1  # the tree's last leaf when it connected (its scope was read after that)
    notifications_at: int | None = None  # the newest notification id when it connected
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    notices: list = field(default_factory=list)
    closed: str = ""  # why the hub ended it

    def sees(self, event: Event) -> bool:
        if self.project_id is not None and event.project_id != self.project_id:
            return False
        return self.scope is None or event.project_id in self.scope

    def close(self, reason: str) -> None:
        self.closed = reason
        self.wake.set()


@dataclass(slots=True)
class Batch:
    tip: int
    events: list
    access: dict | None = None  # user id -> Access, when the batch may have changed it
    live_keys: set | None = None  # of the API keys asked about, those still valid
    unread: dict | None = None  # user id -> unread notifications, for those with new ones
    counts: dict | None = None  # user id -> unread notifications, for everyone connected (a periodic check)
    notification_cursor: int | None = None
    asked: set = field(default_factory=set)  # the people whose access was read


class Hub:
    """The watcher and the ring of recent events of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.streams: set[Stream] = set()
        self.ring: list[Event] = []
        self.tip: int | None = None  # the last leaf index read (-1: an empty tree); None until the first poll
        self.polled = asyncio.Event()
        self.task: asyncio.Task | None = None
        self._kick = asyncio.Event()
        self._notification_cursor: int | None = None
        self._unread: dict = {}
        self._recheck_at = 0.0
        self._chunks: dict = {}  # pending()'s messages of the last batch, by kind of stream
        self._start_from: int | None = None  # where the first poll starts: the oldest joining stream's tip
        self._access_due = False  # a stream joined after the connected people were last listed

    # --- Streams ------------------------------------------------------------------------------

    def join(self, stream: Stream) -> None:
        self.streams.add(stream)
        if self.tip is None:
            # The watcher reads from the tip this stream saw at connect: a row after it that changes who
            # sees what must reach the watcher, whose first poll would otherwise start at a later tip.
            self._start_from = stream.opened_at if self._start_from is None else min(self._start_from, stream.opened_at)
        if self._notification_cursor is None and stream.notifications_at is not None:
            self._notification_cursor = stream.notifications_at  # likewise for notifications made since
        elif self._notification_cursor is not None and stream.notifications_at is not None:
            self._notification_cursor = min(self._notification_cursor, stream.notifications_at)
        else:
            self._access_due = True
        if self.task is None:
            # A context of its own: the task must not share the connecting request's database
            # connections (Django keeps them in context variables).
            self.task = self.loop.create_task(self._watch(), context=contextvars.Context())

    def leave(self, stream: Stream) -> None:
        self.streams.discard(stream)
        if not self.streams:
            self._kick.set()

    def covered_from(self) -> int:
        """The first leaf index the ring holds (or the next one to come): older ones are read from the database."""
        return self.ring[0].leaf_index if self.ring else self.tip + 1

    def pending(self, stream: Stream, cursor: int, as_change: bool) -> bytes:
        """What `stream` has to send after leaf `cursor`: built once per kind of stream and batch (the
        streams of one person, or of people who see the same projects, share it)."""
        key = (stream.scope, stream.project_id, as_change, cursor)
        chunk = self._chunks.get(key)
        if chunk is None:
            chunk = self._chunks[key] = b"".join(event.message(as_change) for event in self.since(cursor) if stream.sees(event))
        return chunk

    def since(self, cursor: int) -> list[Event]:
        """The ring's events after leaf `cursor`, in leaf order (leaf indexes are consecutive)."""
        if not self.ring:
            return []
        position = max(0, cursor + 1 - self.ring[0].leaf_index)
        return self.ring[position:]

    # --- The watcher ----------------------------------------------------------------------------

    async def _watch(self) -> None:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-watcher")
        interval = settings.LIVE_STREAM_POLL_INTERVAL
        failures = 0
        try:
            while self.streams:
                polled_at = time.monotonic()
                snapshot = self._snapshot()
                access_due, self._access_due = self._access_due, False
                tip = self.tip if self.tip is not None else self._start_from
                try:
                    batch = await self.loop.run_in_executor(executor, poll, tip, self._notification_cursor,
                                                            snapshot, self._due_recheck(), access_due)
                except Exception:
                    self._access_due = self._access_due or access_due
                    failures += 1
                    delay = min(interval * 2 ** failures, 10.0)
                    logger.warning("live stream watcher: reading the ledger failed (retry %d in %.1f s, from leaf %s)",
                                   failures, delay, self.tip, exc_info=True)
                    await self.loop.run_in_executor(executor, _close_connections)
                    await self._sleep(delay)
                    continue
                if failures:
                    logger.warning("live stream watcher: reading the ledger again, from leaf %s", self.tip)
                    failures = 0
                self._publish(batch)
                # A poll every `interval` seconds, not `interval` after each: the poll's own time (and the
                # streams' turn on the loop) would otherwise add to every row's delay.
                await self._sleep(max(0.0, interval - (time.monotonic() - polled_at)))
        finally:
            await asyncio.shield(self.loop.run_in_executor(executor, _close_connections))
            executor.shutdown(wait=False)
            if self.streams:
                # One joined while this one was ending: it goes on from the same leaf, state intact.
                self.task = self.loop.create_task(self._watch(), context=contextvars.Context())
            else:
                self.task = None
                self.ring, self.tip, self._notification_cursor, self._unread = [], None, None, {}
                self._start_from, self._access_due = None, False
                self.polled = asyncio.Event()

    async def _sleep(self, seconds: float) -> None:
        self._kick.clear()
        if not self.streams:
            return
        try:
            await asyncio.wait_for(self._kick.wait(), seconds)
        except TimeoutError:
            pass

    def _snapshot(self) -> tuple[set, set]:
        """The connected people and API keys, copied on the loop for the watcher's thread."""
        return {s.user_id for s in self.streams}, {s.key_id for s in self.streams if s.key_id is not None}

    def _due_recheck(self) -> bool:
        now = time.monotonic()
        if now < self._recheck_at:
            return False
        self._recheck_at = now + settings.LIVE_STREAM_NOTIFICATION_RECHECK
        return True

    def _publish(self, batch: Batch) -> None:
        woken = False
        if batch.access is not None:
            for stream in list(self.streams):
                if stream.user_id not in batch.asked:
                    self._access_due = True  # joined during this poll: its people are read at the next one
                    continue
                reason = _ended(stream, batch.access.get(stream.user_id), batch.live_keys)
                if reason:
                    stream.close(reason)
                    woken = True
                else:
                    stream.scope = batch.access[stream.user_id].scope
        self.tip = batch.tip
        self._chunks = {}
        if batch.events:
            self.ring.extend(batch.events)
            limit = settings.LIVE_STREAM_BUFFER
            if len(self.ring) > 2 * limit:  # trimmed in steps: a slice per poll would copy the ring each time
                del self.ring[: len(self.ring) - limit]
            woken = True
        self._notification_cursor = batch.notification_cursor
        # A count is sent when it changes: at once for new notifications, within the periodic check for
        # reads. The first count seen for someone is only remembered (their page was drawn with it).
        changed = dict(batch.unread or {})
        if batch.counts is not None:
            changed.update({user_id: count for user_id, count in batch.counts.items()
                            if user_id in self._unread and self._unread[user_id] != count})
            self._unread = {**batch.counts, **(batch.unread or {})}
        elif batch.unread:
            self._unread.update(batch.unread)
        for stream in self.streams:
            if stream.user_id in changed:
                stream.notices.append(changed[stream.user_id])
                woken = True
        if woken:
            for stream in self.streams:
                stream.wake.set()
        if not self.polled.is_set():
            self.polled.set()


def _ended(stream: Stream, access: Access | None, live_keys: set | None) -> str:
    """Why `stream` must close now, or "" when it stays open."""
    if access is None or not access.active:
        return "deactivated"
    if stream.via == "jwt" and access.token_generation != stream.generation:
        return "signed out"
    if stream.via == "session" and access.session_generation != stream.generation:
        return "signed out"
    if stream.key_id is not None and live_keys is not None and stream.key_id not in live_keys:
        return "key revoked"
    return ""


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The hub of the running event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub(loop)
    return _hubs[loop]


# --- The watcher's database work (on its own thread) --------------------------------------------------


def _close_connections() -> None:
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except Exception:  # a connection the server has terminated may fail to close; it is gone anyway
            logger.debug("closing a broken connection failed", exc_info=True)


def current_tip() -> int:
    """The last leaf index of the tree, -1 when it is empty."""
    from audit.models import LedgerLeaf

    tip = LedgerLeaf.objects.aggregate(tip=Max("leaf_index"))["tip"]
    return -1 if tip is None else tip


def poll(tip: int | None, notification_cursor: int | None, snapshot: tuple[set, set], recheck: bool,
         access_due: bool = False) -> Batch:
    """What happened since leaf `tip`: new events, and (when they may have changed) who sees what."""
    from audit.models import LedgerLeaf

    user_ids, key_ids = snapshot
    if tip is None:
        batch = Batch(tip=current_tip(), events=[])
    else:
        leaves = list(LedgerLeaf.objects.filter(leaf_index__gt=tip).select_related("entry").order_by("leaf_index")[:BATCH])
        batch = Batch(tip=leaves[-1].leaf_index if leaves else tip, events=[event_of(leaf.entry, leaf.leaf_index) for leaf in leaves])
        if access_due or any(leaf.entry.entity_type in ACCESS_ENTITIES or leaf.entry.event_type in ACCESS_EVENT_TYPES
                             for leaf in leaves):
            batch.access, batch.asked = access_of(user_ids), set(user_ids)
            batch.live_keys = live_keys(key_ids)
    batch.notification_cursor, batch.unread, batch.counts = unread_changes(notification_cursor, user_ids, recheck)
    return batch


def access_of(user_ids) -> dict:
    """Access for each of `user_ids`, with two queries whatever their number (and one more per 200
    people who are not operators): the people, then the projects each may see, by core.access's rule."""
    from django.contrib.auth import get_user_model
    from django.db.models import UUIDField, Value

    from core.access import scope_key, visible_projects

    users = list(get_user_model()._base_manager.filter(pk__in=user_ids))
    access = {}
    people = []
    for user in users:
        kind = scope_key(user)
        access[user.pk] = Access(active=kind != "nobody", token_generation=user.token_generation,
                                 session_generation=user.session_generation)
        if kind == "user":
            people.append(user)
            access[user.pk].scope = set()
    for start in range(0, len(people), 200):  # SQLite allows 500 terms in one compound SELECT
        chunk = [visible_projects(user).order_by().annotate(viewer=Value(user.pk, output_field=UUIDField()))
                 .values_list("viewer", "pk") for user in people[start:start + 200]]
        for viewer, project_id in chunk[0].union(*chunk[1:], all=True):
            access[viewer].scope.add(project_id)
    for entry in access.values():
        if entry.scope is not None:
            entry.scope = frozenset(entry.scope)
    return access


def visible_scope(user) -> frozenset | None:
    """The project ids whose rows `user` may see, or None for every row (core.access's rule)."""
    from core.access import OPERATOR, scope_key, visible_projects

    if scope_key(user) == OPERATOR:
        return None
    return frozenset(visible_projects(user).order_by().values_list("pk", flat=True))


def live_keys(key_ids) -> set | None:
    if not key_ids:
        return None
    from accounts.models import ServiceKey

    return {key.pk for key in ServiceKey.objects.filter(pk__in=key_ids, revoked=False) if not key.has_expired}


def unread_changes(cursor: int | None, user_ids: set, recheck: bool) -> tuple[int | None, dict | None, dict | None]:
    """(the newest notification id, unread counts of the connected people with new notifications or
    reads this process was told of, unread counts of everyone connected when `recheck`).

    A new notification shows as a higher id (one indexed query per poll). A read changes no id: the
    notifications app says so with its `notifications_read` signal, which reaches this process only
    when the read was made here, so the counts of everyone connected are compared every
    LIVE_STREAM_NOTIFICATION_RECHECK seconds as well.
    """
    if not user_ids or not apps.is_installed("notifications"):
        return cursor, None, None
    from notifications import selectors

    newest = selectors.latest_id()
    recipients = _take_reads() & user_ids
    if cursor is not None and newest > cursor:
        recipients |= selectors.recipients_since(cursor) & user_ids
    fresh = selectors.unread_counts(recipients) if recipients else None
    everyone = selectors.unread_counts(user_ids) if recheck else None
    return newest, fresh, everyone


def latest_notification() -> int | None:
    """The newest notification id (None without the notifications app): a stream's starting point."""
    if not apps.is_installed("notifications"):
        return None
    from notifications.selectors import latest_id

    return latest_id()


_reads: set = set()
_reads_lock = threading.Lock()


def note_reads(sender=None, user_ids=(), **kwargs) -> None:
    """notifications_read's receiver (live.apps): these people's counts are read again at the next poll."""
    with _reads_lock:
        _reads.update(user_ids)


def _take_reads() -> set:
    with _reads_lock:
        taken = set(_reads)
        _reads.clear()
    return taken


def catch_up(queryset, cursor: int, before: int) -> tuple[list[Event], int]:
    """The rows of `queryset` (the caller's visible rows) with leaves after `cursor` and before `before`,
    at most CATCH_UP_SPAN leaves' worth, in leaf order; and the leaf index read up to."""
    from django.db.models import F

    upper = min(before, cursor + 1 + CATCH_UP_SPAN)
    try:
        rows = list(queryset.filter(ledger_leaf__leaf_index__gt=cursor, ledger_leaf__leaf_index__lt=upper)
                    .annotate(leaf=F("ledger_leaf__leaf_index")).order_by("ledger_leaf__leaf_index"))
        return [event_of(row, row.leaf) for row in rows], upper - 1
    finally:
        _close_connections()
