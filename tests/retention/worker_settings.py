"""Settings of the worker the retention tests kill: a short lock TTL.

A killed worker's Redis lock expires after the TTL; production waits minutes
(longer than any request may run), a test only as long as the sandbox takes
for one batch.
"""

from b24app.settings import *  # noqa: F403

PDN_RETENTION_LOCK_TTL = 10
