"""Errors a user can cause. The CLI prints their one-line message and exits with `exit_code`."""


class AeganError(Exception):
    """Base class: a problem with the user's input or files, not a bug in aegan."""

    exit_code = 1


class UsageError(AeganError, ValueError):
    """Bad arguments or options (exit code 2)."""

    exit_code = 2


class DataError(AeganError, ValueError):
    """A dataset that is missing, unreadable or of the wrong shape (exit code 1)."""


class RunError(AeganError):
    """A run folder that is missing, damaged or does not fit the request (exit code 1)."""


def check_all(checks: list[tuple[bool, str]]) -> None:
    """Raise UsageError with the message of the first (ok, message) pair that is not ok."""
    for ok, msg in checks:
        if not ok:
            raise UsageError(msg)


def a(word: str) -> str:
    """'an ae', 'a vae': a word with its article, for messages."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
