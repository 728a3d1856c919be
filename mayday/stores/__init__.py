"""Where routing state lives: in memory (the embedded default) or, later, in Redis."""

from mayday.stores.base import Store
from mayday.stores.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
