"""The coalition-wide rewards catalogue: a public-schema projection of every
partner's rewards, kept in step by the partners' reward services, so a member's
catalogue across all brands is one indexed, paginated query."""
