"""The test-impact index: which existing tests execute which lines and functions (`store.py`)."""

from agent.index.functions import MODULE, function_spans, functions_of
from agent.index.hashes import Hasher, file_deps
from agent.index.store import (
    INDEX_FILE,
    FileRecord,
    ImpactIndex,
    TestRecord,
    index_path,
    open_index,
)

__all__ = [
    "INDEX_FILE",
    "MODULE",
    "FileRecord",
    "Hasher",
    "ImpactIndex",
    "TestRecord",
    "file_deps",
    "function_spans",
    "functions_of",
    "index_path",
    "open_index",
]
