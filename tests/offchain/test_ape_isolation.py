"""ape's chain isolation with a fixture name defined more than once (tests/support/ape_isolation.py):
each test starts on the chain its own fixtures made, never on what an earlier test left.

Both cases are the suite's own, made small: a function-scoped fixture sharing its name with a
wider one elsewhere (test_wind_down.py's ``invested`` beside test_deploy_safe.py's), and a
fixture name one definition of which deploys nothing while another deploys (the fund record
beside a module's own fund) when a session fixture first comes in the middle of a scope."""

from __future__ import annotations

from typing import Any

import pytest

# an address nothing else in the suite pays: what a fixture sends it is this module's alone
SINK = "0x00000000000000000000000000000000006817e5"


@pytest.fixture(scope="module")
def twin_paid(chain: Any) -> int:
    """The module-scoped definition of the name (sends nothing)."""
    return int(chain.provider.get_balance(SINK))


def test_twin_paid__the_module_scoped_one__pays_nothing(twin_paid: int) -> None:
    assert twin_paid == 0


class TestFunctionFixtureSharingAWiderName:
    """A function-scoped ``twin_paid``: ape set it up before the test's snapshot, at the module
    scope's place (another definition of the name is module-scoped), so each test's payment
    stayed for the next one."""

    @pytest.fixture
    def twin_paid(self, accounts: Any, chain: Any) -> int:
        accounts[9].transfer(SINK, 1)
        return int(chain.provider.get_balance(SINK))

    def test_first__own_payment_only(self, twin_paid: int) -> None:
        assert twin_paid == 1

    def test_second__own_payment_only__the_first_reverted(self, twin_paid: int) -> None:
        assert twin_paid == 1

    def test_order__the_tests_snapshot_before_its_function_fixture(
        self, twin_paid: int, request: Any
    ) -> None:
        names = request.node.fixturenames
        assert names.index("_function_isolation") < names.index("twin_paid")
        assert "_module_isolation" not in names


@pytest.fixture(scope="session")
def first_asked_in_the_middle_of_a_class() -> str:
    """A session fixture no other module takes: asked for first by a class's second test, it
    makes ape rebase (revert to the class's snapshot, drop the class's stateful fixtures)."""
    return "late"


class TestStatelessTwin:
    """The first definition of ``twin_contract`` ape sees set up and torn down deploys nothing."""

    @pytest.fixture(scope="class")
    def twin_contract(self) -> None:
        return None

    def test_stateless__nothing_deployed(self, twin_contract: None) -> None:
        assert twin_contract is None


class TestStatefulTwinAfterARebase:
    """The second definition deploys. ape judged the name stateless from the first one, kept
    this one's contract through the rebase the late session fixture caused, and the revert had
    removed the contract: the test talked to an address with no code."""

    @pytest.fixture(scope="class")
    def twin_contract(self, deployer: Any, project: Any) -> Any:
        # ``deployer`` (a session fixture of tests/conftest.py) first: a session fixture coming
        # in later is what ape rebases for
        return deployer.deploy(project.TestStablecoin, "Twin", "TWN", 6)

    def test_first__deployed(self, twin_contract: Any, chain: Any) -> None:
        assert chain.provider.get_code(twin_contract.address) != b""

    def test_second__a_session_fixture_comes_in__the_contract_still_there(
        self, twin_contract: Any, first_asked_in_the_middle_of_a_class: str, chain: Any
    ) -> None:
        assert first_asked_in_the_middle_of_a_class == "late"
        assert chain.provider.get_code(twin_contract.address) != b""
        assert twin_contract.decimals() == 6
