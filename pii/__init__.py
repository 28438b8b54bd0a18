"""Russian personal-data detection and reversible pseudonymisation.

Plain Python with no Django imports, so the AI gateway, the Celery workers
and the evaluation scripts share one implementation.
"""

from pii.detect import detect
from pii.kinds import Kind, Span
from pii.mapping import Mapping, Pseudonymiser, StreamRestorer
from pii.phones import normalize_phone

__all__ = [
    "Kind",
    "Mapping",
    "Pseudonymiser",
    "Span",
    "StreamRestorer",
    "detect",
    "normalize_phone",
]
