"""Make `import keepers` find the real package under `ape test` (see the same guard in
tests/keepers/crosschain/conftest.py; a `pythonpath = ["."]` pytest option would replace both)."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[3])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)
if getattr(sys.modules.get("keepers"), "__file__", "") is None:  # namespace already cached
    for _name in [m for m in sys.modules if m == "keepers" or m.startswith("keepers.")]:
        del sys.modules[_name]
