"""The mutation list of scripts/toolchain/prove_mutations.py must stay applicable: a contract
edit that removes a mutation's text, or a renamed proof, would otherwise make the check report
a miss only when someone runs `make prove`."""

from __future__ import annotations

import re

from scripts.toolchain.prove_mutations import MUTATIONS, ROOT


def test_every_mutation_applies_once_and_names_an_existing_proof():
    assert len({m.id for m in MUTATIONS}) == len(MUTATIONS)
    proofs = "".join(p.read_text() for p in (ROOT / "tests/symbolic").glob("*.t.sol"))
    for m in MUTATIONS:
        src = (ROOT / m.file).read_text()
        assert src.count(m.old) == 1, f"{m.id}: its text is in {m.file} {src.count(m.old)} times"
        assert m.old != m.new, m.id
        assert re.search(rf"contract {m.contract}\b", proofs), f"{m.id}: no contract {m.contract}"
        body = proofs[proofs.index(f"contract {m.contract}") :]
        assert re.search(rf"function check_\w*{re.escape(m.test)}", body), (
            f"{m.id}: no check_ function matching {m.test!r} in {m.contract}"
        )
