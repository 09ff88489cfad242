'use strict';
/**
 * warden-plugin-time-namespace — an example of a third-party Warden plugin, written only against @warden/core's
 * public contracts (TOKENS, PHASE, ConfigValidationError) and its child op vocabulary (CHILD_OPS).
 *
 * It adds:
 *   isolation.namespaces.time: true          a time namespace of its own (CLONE_NEWTIME, Linux >= 5.6)
 *   isolation.time_offsets: {monotonic, boottime}   seconds added to CLOCK_MONOTONIC / CLOCK_BOOTTIME inside
 *
 * Load it with `wardend --plugin ./examples/plugins/time-namespace` or
 * `warden-isolate --plugin ./examples/plugins/time-namespace --isolation '{"namespaces":{"time":true}, ...}' -- CMD`.
 */
const { TOKENS, PHASE, ConfigValidationError } = require('@warden/core');

/** From <linux/sched.h>. */
const CLONE_NEWTIME = 0x00000080;

/** Limit of a time namespace offset the kernel accepts, roughly (it refuses offsets that overflow). */
const MAX_OFFSET = 10 * 365 * 24 * 3600;

/** @type {import('@warden/core').NamespaceProvider} */
const timeNamespace = {
  key: 'time',
  cloneFlag: CLONE_NEWTIME,
  schema: { type: 'boolean' },
  plan(app, value, plan) {
    if (value !== true) return;
    // Not a clone flag: created by unshare(2) in the prototype after the release, so the app processes it forks
    // are the first members of the namespace, and its offsets (written next, see timeOffsets) can still be set.
    plan.addChildOp({ op: 'unshare', phase: PHASE.NAMESPACE_SETUP, flags: CLONE_NEWTIME });
  },
};

/** @type {import('@warden/core').IsolationExtra} */
const timeOffsets = {
  keys: ['time_offsets'],
  schema: {
    time_offsets: {
      type: 'object',
      properties: { monotonic: { type: 'integer' }, boottime: { type: 'integer' } },
      additionalProperties: false,
    },
  },
  validate(app, ctx) {
    const offsets = app.isolation && app.isolation.time_offsets;
    if (offsets === undefined) return;
    const where = `/applications/${ctx.appName}/isolation/time_offsets`;
    if (!(app.isolation.namespaces && app.isolation.namespaces.time === true)) {
      throw new ConfigValidationError('"time_offsets" is set but "isolation.namespaces.time" is false or unset.', where, 'WARDEN_ERR_TIME_OFFSETS');
    }
    for (const clock of ['monotonic', 'boottime']) {
      const v = offsets[clock];
      if (v !== undefined && (!Number.isInteger(v) || Math.abs(v) > MAX_OFFSET)) {
        throw new ConfigValidationError(
          `The "${clock}" offset must be an integer number of seconds within ±${MAX_OFFSET}.`,
          `${where}/${clock}`,
          'WARDEN_ERR_TIME_OFFSETS',
        );
      }
    }
  },
  plan(app, plan) {
    const iso = app.isolation || {};
    const offsets = iso.time_offsets;
    if (!offsets || !(iso.namespaces && iso.namespaces.time === true)) return;
    const lines = ['monotonic', 'boottime']
      .filter((clock) => offsets[clock] !== undefined)
      .map((clock) => `${clock} ${offsets[clock]} 0\n`)
      .join('');
    if (!lines) return;
    // One write(2) of all lines, before any process has entered the namespace (see time_namespaces(7)). Same step
    // as the provider's unshare, which comes first: providers plan before extras.
    plan.addChildOp({ op: 'write_file', phase: PHASE.NAMESPACE_SETUP, path: '/proc/self/timens_offsets', data: lines });
  },
};

/** Plugin entry point: called once by wardend (or warden-isolate) with the DI container. */
function register(container) {
  container.register(TOKENS.NamespaceProvider, { useValue: timeNamespace });
  container.register(TOKENS.IsolationExtra, { useValue: timeOffsets });
}

module.exports = { register, CLONE_NEWTIME };
