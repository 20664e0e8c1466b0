"""The crosschain_moves table: migration 0003 up and down, amounts kept exactly."""

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from keepers.store import models as m
from keepers.store.db import MIGRATIONS, Store


def _cfg(conn):
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def test_migration_0003__down_and_up__table_dropped_and_recreated(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    assert "crosschain_moves" in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        command.downgrade(_cfg(conn), "0002")
    assert "crosschain_moves" not in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:
        command.upgrade(_cfg(conn), "head")
    cols = {c["name"] for c in inspect(store.engine).get_columns("crosschain_moves")}
    assert {"state", "route", "amount_source", "amount_dest", "handle_ref", "gen"} <= cols
    store.close()


def test_move_row__18_decimal_amounts__stored_exactly(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    big = 123_456_789_012_345_678_901_234_567_890  # > 2**64
    with store.transaction() as s:
        s.add(
            m.CrosschainMove(
                ref="r1",
                kind="small",
                asset="USDT",
                source="a",
                dest="b",
                state="transfer_out",
                routes_skipped=[],
                amount_scaled=big,
                amount_source=big // 10**12,
                amount_dest=big,
                source_decimals=6,
                dest_decimals=18,
                attempts=0,
                gen=0,
            )
        )
    with store.sessions() as s:
        row = s.query(m.CrosschainMove).one()
        assert (row.amount_scaled, row.amount_source, row.amount_dest) == (big, big // 10**12, big)
    store.close()
