"""The pages people use: the merchant console, the member portal and the operator
console, on one small design system.

Server-rendered Django templates with htmx for partial updates; every asset is
served from the project (no CDN). Views are thin adapters over the same domain
services and selectors as the GraphQL API: no business rule lives here. The
layer contract keeps this package beside the API: it imports the domain and the
kernel, never the API or the shell.
"""
