"""Buffers between the pipeline and the sinks (transaction API: put, begin, commit)."""

from gateway.buffer.base import Batch, Buffer
from gateway.buffer.memory import MemoryBuffer

__all__ = ["Batch", "Buffer", "MemoryBuffer"]
