def install(app):
    """Registered by the task queue."""
