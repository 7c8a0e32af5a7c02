"""Hostile: allocate (and touch) up to 8 GB, bounded so the machine survives if limits fail."""

CHUNK = 256 * 1024 * 1024
LIMIT = 8 * 1024 * 1024 * 1024


def test_allocate_gigabytes():
    held = []
    try:
        while len(held) * CHUNK < LIMIT:
            held.append(bytearray(CHUNK))
    except MemoryError:
        pass
    total = len(held) * CHUNK
    held.clear()
    assert total >= LIMIT, f"stopped at {total >> 20} MB"
