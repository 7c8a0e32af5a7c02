"""Files that run inside the sandbox under the target's interpreter (copied, read-only, per run)."""
