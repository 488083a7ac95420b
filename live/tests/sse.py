"""Reading Server-Sent Events in tests: the messages of a body, and waiting for them with a deadline."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass


@dataclass
class Message:
    id: str | None
    event: str | None
    data: str
    comment: bool = False
    retry: str | None = None

    @property
    def json(self):
        return json.loads(self.data)


def parse(text: str) -> tuple[list[Message], str]:
    """The complete messages of `text` (each ends with a blank line), and what is left after them."""
    messages = []
    while "\n\n" in text:
        block, text = text.split("\n\n", 1)
        fields: dict[str, list[str]] = {}
        comment = False
        for line in block.split("\n"):
            if line.startswith(":"):
                comment = True
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
        messages.append(Message(id=(fields.get("id") or [None])[0], event=(fields.get("event") or [None])[0],
                                data="\n".join(fields.get("data", [])), comment=comment and not fields,
                                retry=(fields.get("retry") or [None])[0]))
    return messages, text


class Reader:
    """The messages of an async streaming body, read as they come by a task of its own; `close()`
    cancels that task, which is what the ASGI handler does when the client disconnects."""

    def __init__(self, chunks):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._pump(chunks))
        self.buffer = ""
        self.messages: list[Message] = []
        self.ended = False

    async def _pump(self, chunks):
        async for chunk in chunks:
            await self.queue.put(chunk.decode() if isinstance(chunk, bytes) else chunk)
        await self.queue.put(None)

    async def _next(self, timeout: float) -> bool:
        """Reads one chunk; False on timeout."""
        try:
            chunk = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return False
        if chunk is None:
            self.ended = True
            return True
        self.buffer += chunk
        found, self.buffer = parse(self.buffer)
        self.messages.extend(found)
        return True

    async def until(self, predicate, timeout: float = 10.0) -> list[Message]:
        """Read until predicate(messages so far) holds; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            assert not self.ended, f"the stream ended; got {self.messages!r}"
            remaining = deadline - time.monotonic()
            assert remaining > 0 and await self._next(remaining), f"timed out; got {self.messages!r}"
        return self.messages

    async def end(self, timeout: float = 10.0) -> None:
        """Waits for the server to end the stream."""
        await self.until(lambda m: self.ended, timeout)

    async def nothing_for(self, seconds: float) -> None:
        """Asserts that no event arrives within `seconds` (comments may)."""
        seen = len(self.messages)
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and await self._next(remaining):
            pass
        assert all(m.comment or m.retry for m in self.messages[seen:]), f"unexpected: {self.messages[seen:]!r}"

    def events(self) -> list[Message]:
        return events_of(self.messages)

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def events_of(messages) -> list[Message]:
    return [m for m in messages if m.id is not None]
