"""Tag maps: the YAML (and CSV) files that say which devices and tags the gateway reads.

`load_tagmaps(paths)` loads and checks them, raising `ConfigError` with every problem found.
"""

from gateway.config.loader import LoadedConfig, load_tagmaps

__all__ = ["LoadedConfig", "load_tagmaps"]
