"""The partner registry: partners are the tenants of the coalition."""
