// Compiles dain's contracts with the pinned npm `solc` and writes their ABI and bytecode
// into the Python package, so running dain needs no Node.js.
//   node contracts/build.cjs           write artifacts
//   node contracts/build.cjs --check   exit 1 if the committed artifacts are stale
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..");
const outDir = path.join(root, "src", "dain", "ledger", "artifacts");
const contracts = ["DainToken", "DainTimelock", "DainGovernor", "Registry", "DataAssets", "Jobs"];
// stand-ins for contracts others deploy (a contract wallet), used by tests only: their
// artifacts stay out of the package
const testDir = path.join(root, "tests", "ledger", "artifacts");
const testContracts = ["ContractWallet"];
const sourceOf = (name) => (testContracts.includes(name) ? `test/${name}.sol` : `${name}.sol`);

function findImports(importPath) {
  const candidates = [path.join(root, "node_modules", importPath), path.join(__dirname, importPath)];
  for (const file of candidates) {
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    [...contracts, ...testContracts].map((name) => [
      sourceOf(name),
      { content: fs.readFileSync(path.join(__dirname, sourceOf(name)), "utf8") },
    ]),
  ),
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(2);

const check = process.argv.includes("--check");
let stale = [];
fs.mkdirSync(outDir, { recursive: true });
fs.mkdirSync(testDir, { recursive: true });
for (const name of [...contracts, ...testContracts]) {
  const c = output.contracts[sourceOf(name)][name];
  const artifact = {
    contractName: name,
    compiler: `solc ${solc.version()}`,
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    deployedSize: c.evm.deployedBytecode.object.length / 2,
  };
  const text = JSON.stringify(artifact, null, 1) + "\n";
  const file = path.join(testContracts.includes(name) ? testDir : outDir, `${name}.json`);
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.push(name);
  } else {
    fs.writeFileSync(file, text);
    console.log(`${name}: ${artifact.deployedSize} bytes deployed`);
  }
}
if (stale.length) {
  console.error(`stale contract artifacts: ${stale.join(", ")}; run 'make contracts' and commit the result`);
  process.exit(1);
}
