#!/usr/bin/env node
// A solc command line over the npm solc-js compiler, for py-solc-x / ape-solidity, which only
// need `--version` and `--standard-json`. No native solc can be downloaded on our machines.
// Imports are resolved against --base-path, --include-path and the working directory.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require(process.env.BALLAST_SOLCJS || "solc");

const args = process.argv.slice(2);
// Write synchronously: process.exit() right after process.stdout.write truncates piped output at 64 KiB.
const out = (s) => fs.writeSync(1, s);

if (args.includes("--version") || args.includes("-v")) {
  out("solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n");
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  fs.writeSync(2, "solc-wrapper: only --version and --standard-json are supported\n");
  process.exit(1);
}
const roots = [];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === "--base-path" || args[i] === "--include-path") && args[i + 1]) roots.push(args[++i]);
  else if (args[i].startsWith("--base-path=") || args[i].startsWith("--include-path="))
    roots.push(args[i].split("=")[1]);
  else if (args[i] === "--allow-paths") i++;
}
roots.push(process.cwd());

function findImports(p) {
  const candidates = path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p));
  for (const c of candidates) {
    try {
      return { contents: fs.readFileSync(c, "utf8") };
    } catch (e) {
      /* next root */
    }
  }
  return { error: "File not found: " + p + " (searched " + roots.join(", ") + ")" };
}

const input = fs.readFileSync(0, "utf8");
const result = solc.compile(input, { import: findImports });
if (process.env.BALLAST_SOLC_EMPTY_EVM === "1") {
  // For slither (scripts/toolchain/slither.sh): its input asks for the ASTs and ABIs only, so
  // solc skips code generation and the optimizer (most of a solc-js compile), and
  // crytic-compile, which reads every contract's bytecode and source map, gets empty ones.
  const doc = JSON.parse(result);
  const empty = () => ({ object: "", sourceMap: "" });
  for (const file of Object.values(doc.contracts || {}))
    for (const c of Object.values(file))
      if (!c.evm) c.evm = { bytecode: empty(), deployedBytecode: empty(), methodIdentifiers: {} };
  out(JSON.stringify(doc));
} else {
  out(result);
}
process.exit(0);
