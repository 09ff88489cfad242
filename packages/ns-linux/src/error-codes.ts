/**
 * Every stable error code @warden/ns-linux raises, with its meaning. Isolation errors become 400 `Invalid
 * configuration.` with the JSON path under `/applications/<name>/isolation`. Id-map codes (`WARDEN_ERR_IDMAP_*`) are
 * @warden/idmap's, core's codes (`WARDEN_ERR_CONFIG_*`, `WARDEN_ERR_PLUGIN_LOAD`, ...) are in core's catalogue.
 */
export const ERROR_CODES = {
  WARDEN_ERR_ISOLATION_HOSTNAME: '`hostname` is not a host name, or is set without the `uname` namespace.',
  WARDEN_ERR_ISOLATION_ROOTFS: '`rootfs` is not an absolute path other than `/`, or cannot be used.',
  WARDEN_ERR_ISOLATION_AUTOMOUNT: 'An `automount` choice needs a namespace that is off.',
  WARDEN_ERR_ISOLATION_MOUNTS: 'A `mounts` entry is invalid, or `mounts` is set without the `mount` namespace.',
  WARDEN_ERR_ISOLATION_NEW_PRIVS: '`new_privs` is not a boolean.',
  WARDEN_ERR_ISOLATION_CAPABILITIES: '`capabilities` is not a list of known capability names.',
  WARDEN_ERR_ISOLATION_RLIMITS: 'An `rlimits` entry is not a known limit with a valid value.',
  WARDEN_ERR_ISOLATION_SECCOMP: 'The `seccomp` object is invalid (unknown system call, action or architecture).',
  WARDEN_ERR_ISOLATION_CGROUP: 'The `cgroup` object is invalid, or the cgroup cannot be used.',
  WARDEN_ERR_NS_NATIVE_MISSING: 'The C spawn helper is not built or not installed for this platform.',
  WARDEN_ERR_ISOLATE_USAGE: 'The warden-isolate command line is wrong (exit status 2).',
} as const;
