// jest globalSetup/globalTeardown: every test run gets its own TMPDIR (world-traversable, since app processes run as
// nobody or as mapped ids), inherited by the test workers and every process they start, and removed at the end. So a
// test that forgets to clean up leaves nothing behind, and two runs on one machine never share a temp path.
const { chmodSync, mkdtempSync, rmSync } = require('fs');
const { tmpdir } = require('os');
const { join } = require('path');

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  chmodSync(dir, 0o755);
  process.env.WARDEN_TEST_TMPDIR = dir;
  process.env.TMPDIR = dir;
}

async function teardown() {
  const dir = process.env.WARDEN_TEST_TMPDIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
}

module.exports = { setup, teardown };
