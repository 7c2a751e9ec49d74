"""Typed errors for queries too: a resolver's domain error, refused permission or
bad input becomes a GraphQL error with ``extensions.code``; a database that
cannot be reached becomes ``service_unavailable`` (the view answers 503);
anything unexpected is logged and answered without internals.

Page sizes (``first``, ``last``) are checked here for every field, before its
resolver runs: a size below 1 is the client's mistake, and must not reach the
ORM, whose message ("Negative indexing is not supported") names internals."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DataError, InterfaceError, OperationalError
from graphql import GraphQLError

from loyalty_kernel.errors import DomainError

logger = logging.getLogger(__name__)

# PostgreSQL refuses what no validation caught: a NUL character, a number past
# 64 bits, text longer than its column. The client's input, not a server fault.
UNSTORABLE = "a value is too long, too large, or contains a NUL character"
UNAVAILABLE = "the service is briefly unavailable; retry the request shortly"
PAGE_ARGUMENTS = ("first", "last")


def _check_page_sizes(arguments: dict[str, Any]) -> None:
    for name in PAGE_ARGUMENTS:
        value = arguments.get(name)
        if value is not None and value < 1:
            raise GraphQLError(f"{name} must be at least 1", extensions={"code": "invalid_input"})


class TypedErrorMiddleware:
    def resolve(self, next_: Any, root: Any, info: Any, **arguments: Any) -> Any:
        if arguments:
            _check_page_sizes(arguments)
        try:
            return next_(root, info, **arguments)
        except GraphQLError:
            raise
        except DomainError as exc:
            raise GraphQLError(
                exc.message, extensions={"code": exc.code, "field": exc.field}
            ) from None
        except PermissionError as exc:
            raise GraphQLError(str(exc), extensions={"code": "permission_denied"}) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise GraphQLError(str(exc), extensions={"code": "invalid_input"}) from None
        except DataError as exc:
            logger.info("input the database cannot store, in %s: %s", info.field_name, exc)
            raise GraphQLError(UNSTORABLE, extensions={"code": "invalid_input"}) from None
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable in %s: %s", info.field_name, exc)
            raise GraphQLError(UNAVAILABLE, extensions={"code": "service_unavailable"}) from None
        except Exception:
            logger.exception("unexpected error in %s", info.field_name)
            raise GraphQLError("internal error", extensions={"code": "internal"}) from None
