"""The kernel: what every domain app builds on, importing nothing of ours.

Errors and their registry, SQL on the driver connection, tenancy helpers,
idempotency keys and request fingerprints, money and currencies, the clock and
enqueueing jobs after commit. The layer contract in ``pyproject.toml`` keeps it
at the bottom: the kernel imports no domain app, no API and no shell module.
"""
