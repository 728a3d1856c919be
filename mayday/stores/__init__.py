"""Where routing state lives: in memory (the embedded default) or in Redis (``redis.py``,
its scripts in ``lua/``, its key names in ``keys.py``, its plumbing in ``scripts.py``)."""

from mayday.stores.base import Store
from mayday.stores.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
