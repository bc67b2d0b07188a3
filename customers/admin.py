"""Admin of the customers app; each feature registers its models in its own admin module."""

from customers.segments import admin as segments_admin  # noqa: F401
