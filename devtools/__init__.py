"""Development helpers, not part of the runtime package: the local Redis Cluster driver, demo data."""
