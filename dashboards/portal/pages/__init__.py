"""The portal's pages: each module has ``PATH``, ``TITLE``, ``layout(ctx)`` and ``register(app)``."""
