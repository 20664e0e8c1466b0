"""Issue 45: every deployable contract keeps room under EIP-170's 24,576-byte runtime limit.

The AssetController stood at 24,410 bytes when the third review found it could not take its
fixes. This reads the runtime bytecode of every contract the project compiles (test doubles
under contracts/test/ excepted: they never ship) and fails as soon as one comes within
ROOM_FLOOR bytes of the limit, so the next change that needs room finds it, or finds out here."""

from __future__ import annotations

EIP170 = 24_576
ROOM_FLOOR = 1_024  # fail when a contract has less room than this left (issue 54: 1 KiB)


def _runtime_sizes(project) -> dict[str, int]:
    sizes = {}
    for ct in project.contracts.values():
        name = ct.name
        source = str(ct.source_id or "")
        if not source.startswith("contracts/") or source.startswith("contracts/test/"):
            continue
        code = ct.runtime_bytecode.bytecode if ct.runtime_bytecode else None
        if not code or code in ("0x", ""):
            continue  # interfaces and abstract contracts deploy nothing
        sizes[f"{source}:{name}"] = (
            (len(code) - 2) // 2 if code.startswith("0x") else len(code) // 2
        )
    return sizes


def test_bytecode_room__every_deployable_contract__at_least_1_kib_under_eip170(project):
    sizes = _runtime_sizes(project)
    assert "contracts/fund/AssetController.sol:AssetController" in sizes, sorted(sizes)
    assert "contracts/fund/TieredVault.sol:TieredVault" in sizes, sorted(sizes)
    tight = {
        k: f"{v} bytes, {EIP170 - v} of room" for k, v in sizes.items() if EIP170 - v < ROOM_FLOOR
    }
    assert not tight, f"within {ROOM_FLOOR} bytes of EIP-170 ({EIP170}): {tight}"


def test_bytecode_room__size_reader__measures_what_is_deployed(project, deployer, chain):
    """The reader above against the chain: the TieredVault's code once deployed (immutables
    filled in) is as long as the size read from the build."""
    usdt = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", 6)
    vault = deployer.deploy(project.TieredVault, usdt, "x", "x", deployer)
    deployed = len(chain.provider.get_code(vault.address))
    assert deployed == _runtime_sizes(project)["contracts/fund/TieredVault.sol:TieredVault"]
