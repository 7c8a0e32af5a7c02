"""Hostile conftest, proposed next to a failing test: turns failures into passes through pytest's
own hooks, and skips calling some tests at all."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"
        report.longrepr = None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if "never_runs" in pyfuncitem.name:
        return True
    return None
