"""How good are the tests itarch keeps? The evaluation on real repositories.

- offline suite: each target's held-out integration tests, proposed back verbatim and broken,
  through the real loop with a scripted stand-in; scores the judge (confusion matrix), the
  coverage and mutation the accepted files recover, and the harness's own overhead.
- live suite: Claude writes tests for the held-out modules within a budget; scored against the
  held-out human tests and set next to published figures.
- replay suite: a live run's recorded responses played back; the scores must be identical.

Run with `python -m evals run --suite offline|live|replay` (see evals/cli.py).
"""
