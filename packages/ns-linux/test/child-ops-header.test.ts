import { readFileSync } from 'fs';
import * as path from 'path';
import { CHILD_OPS } from '@warden/core';
import { HEADER_PATH, renderChildOpsHeader, withChildOpsTable } from '../src/internal/spawner/child-ops-header';

const ROOT = path.resolve(__dirname, '..');
const STALE = 'is stale: CHILD_OPS in @warden/core changed. Run `npm run gen:child-ops -w @warden/ns-linux` and commit the result';

describe('the child op vocabulary is written once (CHILD_OPS in @warden/core)', () => {
  it('native/child-ops.h is what scripts/child-ops-header.js generates from it', () => {
    const current = readFileSync(path.join(ROOT, HEADER_PATH), 'utf8');
    if (current !== renderChildOpsHeader()) throw new Error(`${HEADER_PATH} ${STALE}`);
  });

  it('the README table is what scripts/child-ops-header.js generates from it', () => {
    const current = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    if (current !== withChildOpsTable(current)) throw new Error(`README.md's child op table ${STALE}`);
  });

  it('the C helper handles every op of the table by its generated name, and names no op by a string', () => {
    const c = readFileSync(path.join(ROOT, 'native/warden-spawn.c'), 'utf8');
    for (const op of Object.keys(CHILD_OPS)) {
      expect(c).toContain(`case OP_${op.toUpperCase()}:`);
      // No strcmp(op, "mount") / strcmp(r->s[0], "rlimit") dispatch: the header's enum only.
      expect(c).not.toMatch(new RegExp(`strcmp\\((op|[^,;]*s\\[0\\]),\\s*"${op}"\\)`));
    }
  });

  it('has no special case for the time or cgroup namespace in the C helper (plugins create them with the unshare op)', () => {
    const c = readFileSync(path.join(ROOT, 'native/warden-spawn.c'), 'utf8');
    expect(c).not.toMatch(/CLONE_NEWTIME|CLONE_NEWCGROUP/);
  });
});
