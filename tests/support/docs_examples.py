"""The shell examples of the operator guide (docs/operator/): every ``bash`` block is marked,
on the line before its fence, ``<!-- example: local -->`` (a test runs it against a local anvil:
tests/offchain/cli/test_docs_examples.py), ``<!-- example: crosschain -->`` or ``<!-- example:
crosschain service -->`` (the cross-chain page's walk runs it against local anvils, the second
with the page's service running: tests/offchain/crosschain/test_operator_page.py) or
``<!-- example: not run: <why> -->``. The emergency playbooks (docs/playbooks/) are marked the
same way, ``<!-- example: playbook <name> -->`` for a block a playbook walk runs
(tests/offchain/docs/test_playbook_walk.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = ROOT / "docs" / "operator"
PLAYBOOKS = ROOT / "docs" / "playbooks"
MARK = re.compile(
    r"^\s*<!-- example: (local|crosschain(?: service)?|playbook [a-z-]+|not run: .+) -->\s*$"
)
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")


@dataclass(frozen=True)
class Example:
    page: str
    line: int  # the fence's line, 1-based
    mark: str | None  # "local", "not run: ...", or None when unmarked
    lang: str
    code: str

    @property
    def local(self) -> bool:
        return self.mark == "local"


def examples(folder: Path = OPERATOR) -> list[Example]:
    out: list[Example] = []
    for page in sorted(folder.glob("*.md")):
        lines = page.read_text().split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if m is None:
                i += 1
                continue
            indent, lang = m.group(1), m.group(2)
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            body = "\n".join(x[len(indent) :] for x in lines[i + 1 : end])
            mark = MARK.match(lines[i - 1]) if i > 0 else None
            out.append(
                Example(
                    str(page.relative_to(ROOT)), i + 1, mark.group(1) if mark else None, lang, body
                )
            )
            i = end + 1
    return out
