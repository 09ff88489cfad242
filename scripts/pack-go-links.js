#!/usr/bin/env node
// npm pack leaves symbolic links out of a tarball, and @warden/app-types' Go module `unit.nginx.org/go` (go/unit)
// shares its internal packages with the Warden module through links (see go/README.md). `prepack` replaces each
// link under go/unit by a copy of the file it points to, so the packed module is complete; `postpack` puts the links
// back. The links replaced are recorded in .pack-links.json (outside `files`), so an interrupted pack is undone by
// the next one.
// Usage (from packages/app-types): node ../../scripts/pack-go-links.js materialise|restore
'use strict';
const fs = require('fs');
const path = require('path');

const pkg = process.cwd();
const root = path.join(pkg, 'go', 'unit');
const record = path.join(pkg, '.pack-links.json');

function links(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) out.push(p);
    else if (e.isDirectory()) out.push(...links(p));
  }
  return out;
}

function restore() {
  if (!fs.existsSync(record)) return;
  for (const { file, target } of JSON.parse(fs.readFileSync(record, 'utf8'))) {
    const abs = path.join(pkg, file);
    fs.rmSync(abs, { force: true });
    fs.symlinkSync(target, abs);
  }
  fs.unlinkSync(record);
}

function materialise() {
  restore(); // an interrupted pack left copies: back to links first
  if (!fs.existsSync(root)) return;
  const done = [];
  for (const abs of links(root)) {
    const target = fs.readlinkSync(abs);
    const data = fs.readFileSync(abs); // follows the link
    done.push({ file: path.relative(pkg, abs), target });
    fs.writeFileSync(record, JSON.stringify(done));
    fs.unlinkSync(abs);
    fs.writeFileSync(abs, data, { mode: 0o644 });
  }
}

const mode = process.argv[2];
if (mode === 'materialise') materialise();
else if (mode === 'restore') restore();
else {
  process.stderr.write('usage: pack-go-links.js materialise|restore\n');
  process.exit(2);
}
