from protein.cli import _EXTRA_COMMANDS  # noqa: F401
