"""The GraphQL API: the coalition schema (public host) and the partner schema
(partner hosts). Types and mutations call services; they hold no business rules."""
