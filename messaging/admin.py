from messaging.callbacks import admin as callbacks_admin  # noqa: F401
