"""The example shop's own integration test is accepted (judged in place, against its change), and
variants of it are rejected with the right reason."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.config import load_settings
from agent.context import build_context
from agent.demo.shop import ShopRepo
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import ProposedFile, Reason

from .conftest import verdicts

INTEGRATION = "tests/integration/test_order_placement.py"


def test_shop_integration_test_is_accepted_and_variants_are_not(shop: ShopRepo) -> None:
    original = (shop.path / INTEGRATION).read_text(encoding="utf-8")
    wrong_total = original.replace('"50.00"', '"45.00"')
    no_client = original.replace("(client)", "(http_client)")
    assert wrong_total != original and no_client != original
    settings = load_settings(shop.path)
    context = build_context(shop.path, base=shop.base)
    with Sandbox(shop.path, Path(sys.executable), settings.sandbox) as box:
        judge = Judge(box, settings, context=context, existing_ok=True)  # as `itarch check` does
        kept = judge.check([ProposedFile(path=INTEGRATION, content=original)])
        variants = judge.check(
            [
                ProposedFile(path="tests/integration/test_wrong_total.py", content=wrong_total),
                ProposedFile(path="tests/integration/test_no_client.py", content=no_client),
            ]
        )
    (test,) = verdicts(kept, INTEGRATION).values()
    assert test.verdict == "accepted", test
    assert test.changed_lines_covered and test.mutants_killed
    assert kept.mutants_total >= kept.mutants_killed > 0
    assert {
        t.reason for t in verdicts(variants, "tests/integration/test_wrong_total.py").values()
    } == {Reason.FAILS}
    assert {
        t.reason for t in verdicts(variants, "tests/integration/test_no_client.py").values()
    } == {Reason.COLLECTION}
