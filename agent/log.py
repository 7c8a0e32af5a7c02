"""structlog configuration: readable console lines on a TTY, JSON otherwise, always on stderr."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(verbosity: int = 0) -> None:
    level = logging.WARNING - 10 * verbosity
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=True)
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(max(level, logging.DEBUG)),
        # Looked up at each call: sys.stderr may be replaced (pytest's capture, a redirect).
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
