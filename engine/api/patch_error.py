"""The one error type of the PATCH helpers (`strategic.py`, `patches.py`).

A `PatchError` carries what a Kubernetes `Status` needs (HTTP code, reason, message), so
the API handler turns any patch failure into a Status without knowing where it came from.
The codes follow the real API server: a malformed patch is 400 BadRequest, a patch that is
well-formed but cannot apply (a failed JSON patch `test`, a `$retainKeys` list that does not
cover the patch) is 422 Invalid, a patch type the resource does not support is 415.
"""

from __future__ import annotations

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


class PatchError(Exception):
    """A patch that cannot be applied, with the Status fields that say why."""

    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def status(self) -> dict:
        """The Kubernetes `Status` object for this error."""
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def bad_request(message: str) -> PatchError:
    return PatchError(400, "BadRequest", message)


def invalid(message: str) -> PatchError:
    return PatchError(422, "Invalid", message)


def unsupported_media_type(accepted: tuple[str, ...] = (JSON_PATCH, MERGE_PATCH)) -> PatchError:
    """What the API server answers for a patch type the resource does not take (for
    example a strategic merge patch on a custom resource); kubectl edit falls back to a
    JSON merge patch when it sees this reason."""
    return PatchError(415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types include: "
                      + ", ".join(accepted))
