"""`itarch review`: gaps and weak tests among a module's existing integration tests."""

from agent.review.analyse import review
from agent.review.model import ModuleReview, ReviewResult, WeakTest

__all__ = ["ModuleReview", "ReviewResult", "WeakTest", "review"]
