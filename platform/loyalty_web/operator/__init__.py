"""The operator console: the coalition operator's pages on the public host under
``/operator/``, for operator staff only (``coalition.operators``)."""
