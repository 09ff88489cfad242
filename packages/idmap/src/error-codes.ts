/** Every stable error code @warden/idmap raises (`IdMapError`'s `code`), with its meaning. */
export const ERROR_CODES = {
  WARDEN_ERR_IDMAP_TYPE: 'A `uidmap`/`gidmap` value or entry has the wrong shape or type.',
  WARDEN_ERR_IDMAP_TOO_MANY: 'A map has more entries than the kernel accepts (340).',
  WARDEN_ERR_IDMAP_RANGE: 'An entry has a size below 1, runs past the id range, or overlaps another entry.',
  WARDEN_ERR_IDMAP_NO_CREDENTIAL: 'A map is given without a user namespace (`credential`).',
  WARDEN_ERR_IDMAP_UNPRIVILEGED: 'An unprivileged process may map only its own id, once.',
  WARDEN_ERR_IDMAP_NOT_COVERED: "The app's user or group is not inside the map.",
  WARDEN_ERR_IDMAP_WRITE: 'Writing `/proc/PID/uid_map`, `gid_map` or `setgroups` failed.',
} as const;
