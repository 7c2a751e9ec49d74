"""The shared design system's Python side: page rendering with htmx partials,
keyset pagination, charts drawn on the server as SVG, CSV exports, and
locale-aware formatting of money, points and dates."""
