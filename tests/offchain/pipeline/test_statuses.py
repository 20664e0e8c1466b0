"""The three state machines (intent, plan, move): transitions as data, refused illegal moves,
CHECK constraints in the schema (migration 0006) on SQLite and PostgreSQL, and the migration
chain up from 0001 and back down."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from keepers.core.errors import DomainError, KeeperError
from keepers.store.db import MIGRATIONS, Store, downgrade, make_engine, migrate
from keepers.store.statuses import (
    INTENT,
    MACHINES,
    MOVE,
    PLAN,
    IllegalTransition,
    Machine,
    transition,
)

ALL_PAIRS = [
    (machine, frm, to) for machine in MACHINES for frm in machine.states for to in machine.states
]


def _row(machine: Machine[Any], status: str) -> SimpleNamespace:
    return SimpleNamespace(**{machine.column: status})


@pytest.mark.parametrize(
    ("machine", "frm", "to"),
    [(m, f, t) for m, f, t in ALL_PAIRS if t in m.table[f]],
    ids=lambda x: getattr(x, "name", str(x)),
)
def test_transition__every_allowed_move__applied(machine, frm, to):
    row = _row(machine, frm.value)
    assert transition(machine, row, to.value) is to
    assert getattr(row, machine.column) == to.value


@pytest.mark.parametrize(
    ("machine", "frm", "to"),
    [(m, f, t) for m, f, t in ALL_PAIRS if t not in m.table[f]],
    ids=lambda x: getattr(x, "name", str(x)),
)
def test_transition__every_move_not_in_the_table__refused_unchanged(machine, frm, to):
    row = _row(machine, frm.value)
    with pytest.raises(IllegalTransition) as err:
        transition(machine, row, to.value)
    assert (err.value.machine, err.value.current, err.value.new) == (machine.name, frm, to)
    assert getattr(row, machine.column) == frm.value  # nothing written


def test_transition__illegal_move__typed_domain_error_naming_machine_from_to():
    row = _row(INTENT, "confirmed")
    with pytest.raises(IllegalTransition, match=r"intent: 'confirmed' -> 'pending'") as err:
        transition(INTENT, row, "pending")
    assert isinstance(err.value, DomainError) and isinstance(err.value, KeeperError)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_transition__unknown_status__refused(machine):
    start = machine.active[0].value
    with pytest.raises(IllegalTransition):
        transition(machine, _row(machine, start), "executing")
    with pytest.raises(IllegalTransition):
        machine.start("executing")


def test_tables__every_status_listed_and_finals_have_no_exit():
    for machine in MACHINES:
        assert set(machine.table) == set(machine.states)
        assert all(nxt <= set(machine.states) for nxt in machine.table.values())
        assert machine.initial and not (machine.initial & machine.final)
    assert {s.value for s in INTENT.final} == {
        "confirmed",
        "reverted",
        "failed",
        "rejected",
        "invalid",
    }
    assert {s.value for s in MOVE.final} == {"done", "failed", "rejected", "expired"}
    assert PLAN.start("proposed") == "proposed"
    with pytest.raises(IllegalTransition):
        PLAN.start("approved")  # a plan is never stored approved before its risk check


def _migration_module(name: str = "0006_status_checks") -> Any:
    path = MIGRATIONS / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location("m" + name[:4], path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_migration_0006__frozen_lists__equal_the_enums_then_0009_adds_stale():
    mod = _migration_module()
    assert mod.down_revision == "0005"
    checks = {(t, c): values for t, c, _name, values in mod.CHECKS}
    later = {("plans", "status"): _migration_module("0009_plan_stale").PLAN_STATUSES}
    for machine in MACHINES:
        key = (machine.db_table, machine.column)
        assert later.get(key, checks[key]) == machine.values()
    assert checks[("plans", "status")] + ("stale",) == PLAN.values()


def test_migration_0009__stale_plan__accepted_at_head_and_down_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/k.db")
    migrate(engine, "0008")
    with pytest.raises(IntegrityError):
        _insert(engine, PLAN, 1, "stale")
    migrate(engine)
    _insert(engine, PLAN, 1, "stale")
    with pytest.raises(IntegrityError):
        _insert(engine, PLAN, 2, "bogus")
    # named, with the command that archives it (keepers.store.downgrade)
    with pytest.raises(
        RuntimeError, match=r"1 plan.*plan-1 \(stale\).*keeper store downgrade 0008 --end-plans"
    ):
        downgrade(engine, "0008")
    with engine.begin() as c:
        c.execute(text("UPDATE plans SET status = 'expired' WHERE id = 1"))
    downgrade(engine, "0008")
    with pytest.raises(IntegrityError):
        _insert(engine, PLAN, 3, "stale")
    engine.dispose()


# ------------------------------------------------------------------ the database refuses

_INSERTS = {
    "tx_intents": (
        "INSERT INTO tx_intents (id, idempotency_key, kind, role, chain_id, sender, target, "
        "calldata, value, notional, fee_policy, status, checked_block, retries, next_try_at, "
        "created_at, updated_at) VALUES (:id, :key, 'call', 'r', 1, '0x1', '0x2', '0x', '0', "
        "'0', '{}', :status, -1, 0, :at, :at, :at)"
    ),
    "plans": (
        "INSERT INTO plans (id, ref, kind, status, payload, created_at, updated_at) "
        "VALUES (:id, :key, 'k', :status, '{}', :at, :at)"
    ),
    "crosschain_moves": (
        "INSERT INTO crosschain_moves (id, ref, kind, asset, source, dest, state, "
        "routes_skipped, amount_scaled, amount_source, amount_dest, source_decimals, "
        "dest_decimals, attempts, gen, next_try_at, created_at, updated_at) VALUES (:id, :key, "
        "'small', 'USDC', 'a', 'b', :status, '[]', '1', '1', '1', 6, 6, 0, 0, :at, :at, :at)"
    ),
}
_AT = "2026-11-23 11:00:00+00:00"


def _insert(engine: Any, machine: Machine[Any], ident: int, status: str) -> None:
    with engine.begin() as c:
        c.execute(
            text(_INSERTS[machine.db_table]),
            {"id": ident, "key": f"{machine.name}-{ident}", "status": status, "at": _AT},
        )


def _check_refuses_unknown(engine: Any) -> None:
    for machine in MACHINES:
        for i, status in enumerate(machine.values(), start=1):
            _insert(engine, machine, i, status)  # every known status is accepted
        with pytest.raises(IntegrityError):
            _insert(engine, machine, 999, "executing")
        with pytest.raises(IntegrityError), engine.begin() as c:
            c.execute(
                text(f"UPDATE {machine.db_table} SET {machine.column} = 'bogus' WHERE id = 1")
            )


def test_sqlite__unknown_status_by_raw_sql__refused_by_check(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    _check_refuses_unknown(store.engine)
    store.close()


def _check_names(engine: Any) -> set[str]:
    insp = inspect(engine)
    tables = set(insp.get_table_names()) & {"tx_intents", "plans", "crosschain_moves"}
    return {ck["name"] for table in tables for ck in insp.get_check_constraints(table)}


CHECK_NAMES = {"ck_tx_intents_status", "ck_plans_status", "ck_crosschain_moves_state"}


def _up_and_down(url: str) -> None:
    """0001 -> head with rows (and rows pointing at them) in every table 0006 touches, then
    down to 0001 and up again; the rows survive and only head refuses an unknown status."""
    engine = make_engine(url)
    migrate(engine, "0001")
    migrate(engine, "0005")
    for machine in MACHINES:
        _insert(engine, machine, 1, machine.active[0].value)
    with engine.begin() as c:  # rows of other tables that point at the re-created tables
        c.execute(
            text(
                "INSERT INTO step_log (intent_id, step, outcome, detail, at) "
                "VALUES (1, 'submit', 'ok', '{}', :at)"
            ),
            {"at": _AT},
        )
        c.execute(text("INSERT INTO actions (plan_id, seq, kind, status, payload) "
                       "VALUES (1, 0, 'k', 'pending', '{}')"))  # fmt: skip
    assert not (_check_names(engine) & CHECK_NAMES)
    migrate(engine)
    assert _check_names(engine) >= CHECK_NAMES
    with pytest.raises(IntegrityError):
        _insert(engine, INTENT, 2, "executing")
    downgrade(engine, "0001")
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert c.execute(text("SELECT count(*) FROM step_log")).scalar() == 1
        assert c.execute(text("SELECT count(*) FROM actions")).scalar() == 1
    assert not (_check_names(engine) & CHECK_NAMES)
    migrate(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM tx_intents WHERE id = 1")).scalar() == "pending"
    engine.dispose()


def test_migrations__sqlite_0001_to_head_and_down__rows_kept(tmp_path):
    _up_and_down(f"sqlite:///{tmp_path}/k.db")


def test_migrations__postgres_0001_to_head_and_down__rows_kept(postgres):
    _up_and_down(postgres.fresh_database())


def test_postgres__unknown_status_by_raw_sql__refused_by_check(postgres):
    store = Store(postgres.fresh_database())
    _check_refuses_unknown(store.engine)
    store.close()
