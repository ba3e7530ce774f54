"""The CLI's one error type: what every command raises to be reported in one line.

Its own module so that the command modules (`commands.py`, `serve.py`, `backup.py`,
`remote.py`) can all raise it without importing each other; `cli.py` prints it.
"""


class UserError(Exception):
    """A problem to report in one line, without a traceback."""
