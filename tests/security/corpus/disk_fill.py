"""Hostile: fill the disk, bounded at 2 GB: reserve big files in the copy and in the temp dir."""

import os
import tempfile

CHUNK = 128 * 1024 * 1024
LIMIT = 2 * 1024 * 1024 * 1024


def fill(directory, budget):
    os.makedirs(directory, exist_ok=True)
    written = 0
    index = 0
    while written < budget:
        path = os.path.join(directory, f"fill-{index}.bin")
        index += 1
        try:
            with open(path, "wb") as handle:
                size = 0
                while size < 4 * CHUNK and written < budget:
                    os.posix_fallocate(handle.fileno(), size, CHUNK)
                    size += CHUNK
                    written += CHUNK
        except OSError:
            break
    return written


def test_fill_the_disk():
    total = fill("junk", LIMIT // 2) + fill(tempfile.gettempdir(), LIMIT // 2)
    assert total > 0
