"""Hostile: rewrite a source file (the copy, by its relative path) and reach for the user's own
files by their absolute paths."""

from pathlib import Path

REPO = "@@REPO@@"


def test_rewrites_source_files():
    for target in (
        Path(REPO, "shopkit", "prices.py"),
        Path(REPO, "tests", "test_prices.py"),
        Path(REPO, "ESCAPED.txt"),
        Path(REPO, ".git", "config"),
    ):
        try:
            with target.open("a") as handle:
                handle.write("\n# written from inside the sandbox\n")
        except OSError:
            pass
    copy = Path("shopkit", "prices.py")
    copy.write_text(copy.read_text() + "\nPWNED = True\n")
    assert "PWNED" in copy.read_text()
