"""A synchronous in-process event bus: handlers run in the publisher's call, in order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], None]


class EventBus:
    """Delivers each published event to the handlers subscribed to its name.

    A handler's exception propagates to the publisher, so a failed side effect is never silent.
    """

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)
        self.published: list[Event] = []

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    def publish(self, name: str, **payload: Any) -> Event:
        event = Event(name, payload)
        self.published.append(event)
        for handler in list(self._handlers[name]):
            handler(event)
        return event
