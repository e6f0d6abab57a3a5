"""Optional integrations, each behind its own extra (e.g. ``customer-sdk[redis]``)."""
