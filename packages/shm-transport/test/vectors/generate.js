// Regenerates the binary test vectors from vectors.json with the TypeScript codec:
//   node -r ../fixtures/ts-register.js generate.js
// The .bin files are committed; both codecs (TS and Go) are tested against them, so a change here is a protocol
// change (bump the version in PROTOCOL.md).
const fs = require('fs');
const path = require('path');
const { encodeFrame } = require('../../src/internal/codec.ts');
for (const v of JSON.parse(fs.readFileSync(path.join(__dirname, 'vectors.json'), 'utf8'))) {
  const f = { ...v.frame };
  if (f.type === 'DATA') f.data = Buffer.from(f.data, 'hex');
  fs.writeFileSync(path.join(__dirname, v.file), encodeFrame(f));
}
