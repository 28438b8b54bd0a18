"""Settings of the worker the retention tests kill: a short lock TTL.

A killed worker's Redis lock expires after the TTL; production waits minutes,
a test should not.
"""

from b24app.settings import *  # noqa: F403

PDN_RETENTION_LOCK_TTL = 3
