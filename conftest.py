import os

# The suite runs against this machine's PostgreSQL and Redis.
os.environ.setdefault("PDN_ENV", "test")
