#!/usr/bin/env bash
# Installs the Solidity toolchain where ape finds it: the solc-js wrapper as the solc binary
# py-solc-x looks for (~/.solcx/solc-v<version>), and checks that anvil runs. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(node -p "require('$root/node_modules/solc/package.json').version")"
dest="${SOLCX_BINARY_PATH:-$HOME/.solcx}/solc-v$version"
mkdir -p "$(dirname "$dest")"
cat > "$dest.tmp" <<SH
#!/usr/bin/env bash
BALLAST_SOLCJS="$root/node_modules/solc" exec node "$root/scripts/toolchain/solc-wrapper.js" "\$@"
SH
chmod +x "$dest.tmp"
mv "$dest.tmp" "$dest"
"$dest" --version | grep -q "Version: $version" || { echo "solc wrapper at $dest does not answer --version" >&2; exit 1; }
"$root/node_modules/.bin/anvil" --version >/dev/null || { echo "anvil from npm does not run" >&2; exit 1; }
echo "toolchain: solc $version at $dest; anvil $("$root/node_modules/.bin/anvil" --version | head -1 | awk '{print $3}')"
