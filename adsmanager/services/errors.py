"""What services raise when a request cannot be carried out. The HTTP layer maps them."""

from __future__ import annotations


class ServiceError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not_found"

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} not found.")


class PermissionDenied(ServiceError):
    code = "forbidden"


class Conflict(ServiceError):
    """The request is well formed but the object's state does not allow it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidInput(ServiceError):
    """One or more fields break a rule; ``fields`` maps a dotted path to its messages."""

    code = "validation_failed"

    def __init__(self, fields: dict[str, list[str]], message: str = "") -> None:
        super().__init__(message or "The request has invalid fields.")
        self.fields = fields


class FieldErrors:
    """Collects every broken rule of a request, so the caller sees them all at once."""

    def __init__(self) -> None:
        self._errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self._errors.setdefault(path, []).append(message)

    def __bool__(self) -> bool:
        return bool(self._errors)

    def raise_if_any(self) -> None:
        if self._errors:
            raise InvalidInput(dict(self._errors))


def invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput({path: [message]})


class PaymentDeclined(ServiceError):
    """The payment provider declined: nothing was charged and nothing changed."""

    code = "payment_declined"


class Unavailable(ServiceError):
    """A service we depend on (Stripe) is not configured or not reachable; nothing changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
