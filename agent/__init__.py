"""itarch: integration tests for Python repositories, written by Claude and proven in a sandbox."""

__version__ = "0.1.0"
