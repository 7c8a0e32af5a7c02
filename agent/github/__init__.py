"""The PR bot: the event GitHub Actions hands over, the pull request's diff, the run, and one
sticky comment (`api` talks to GitHub, `comment` renders, `run` does a pull request start to end;
`workflow.yml` is the example workflow `itarch init --ci` writes)."""

from __future__ import annotations

from agent.github.api import (
    ActionsEnv,
    GitHubError,
    PullRequestClient,
    ReviewSuggestion,
    load_event,
    workflow_text,
)
from agent.github.comment import MARKER, CommentLinks, plan_suggestions, render_comment

__all__ = [
    "MARKER",
    "ActionsEnv",
    "CommentLinks",
    "GitHubError",
    "PullRequestClient",
    "ReviewSuggestion",
    "load_event",
    "plan_suggestions",
    "render_comment",
    "workflow_text",
]
