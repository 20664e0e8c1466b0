"""No secret in any message, whatever variable it lands in.

`install()` wraps the process's stdout and stderr so that every write (click output, error
messages, log lines, tracebacks) has every known secret value scrubbed: the values of the
variables named like secrets, any value shaped like a key, a mnemonic or a URL's password
(keepers.core.settings.env_secrets), the secrets the loaders registered from config files, and
any 64 bare hex digits (a key without its 0x, whatever it was read from: the store, a file).
The CLI installs it first thing, so a key pasted into KEEPER_POLICY_FILE or KEEPER_DEPLOYMENT
is shown as ``<redacted>`` in "cannot read the policy file" or "deployment file ... not found".
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from keepers.core.settings import env_secrets, redact_key_tokens, scrub


class ScrubbingStream:
    """A text stream that writes through to `inner` with every secret value scrubbed."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact_key_tokens(scrub(text, env_secrets())) if text else text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer...
        return getattr(self.inner, name)


def install() -> None:
    """Wrap sys.stdout and sys.stderr (once; a wrapped stream is left as it is)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, ScrubbingStream):
            setattr(sys, name, ScrubbingStream(stream))
