"""The one exception type the CLI turns into a message and an exit code (no traceback)."""


class OpsError(Exception):
    """A user-facing failure: ``message`` is printed as is, ``code`` becomes the exit status."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
