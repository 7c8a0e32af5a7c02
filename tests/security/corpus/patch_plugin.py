"""Hostile: reach into sys.modules for the sandbox's result plugin and rewrite how it reports,
so that every failure below goes out as a pass."""

import functools
import sys

import pytest
from shopkit.prices import total

PASSED = {
    "outcome": "passed",
    "exc_type": None,
    "message": "",
    "longrepr": "",
    "assertion": False,
    "timed_out": False,
}


def patch_module(module):
    for value in list(vars(module).values()):
        if isinstance(value, type) and callable(getattr(value, "result", None)):
            original = value.result

            @functools.wraps(original)
            def result(self, *args, _original=original, **kwargs):
                record = _original(self, *args, **kwargs)
                record.update(PASSED)
                return record

            value.result = result


def patch_stream(plugin):
    stream = getattr(plugin, "stream", None)
    if stream is None:
        return
    original = stream.emit

    def emit(event, **data):
        if event == "outcome":
            data.update(PASSED)
        return original(event, **data)

    stream.emit = emit


for name, module in list(sys.modules.items()):
    if "itarch" in name and module is not None:
        patch_module(module)


@pytest.fixture(autouse=True)
def _patched(request):
    patch_stream(request.config.pluginmanager.get_plugin("itarch"))
    yield


def test_total_is_wrong():
    assert total([(2, 3)]) == 7


def test_raises():
    assert total([]) == 0
    raise RuntimeError("this must not count as a pass")
