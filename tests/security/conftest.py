"""The hostile corpus is data for the sandbox, never tests of this suite."""

collect_ignore = ["corpus"]
