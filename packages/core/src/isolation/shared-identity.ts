/** One host uid that several applications (or an application and an unprivileged wardend) run as, with no user namespace between them. */
export interface SharedIdentity {
  uid: number;
  /** The applications, in config order. */
  apps: string[];
  /** wardend itself runs as this uid (unprivileged wardend). */
  daemon: boolean;
}

/** What one application runs as, for {@link sharedIdentities}. */
export interface AppIdentity {
  name: string;
  /** Host uid of its processes. */
  uid: number;
  /** It has a user namespace of its own (`isolation.namespaces.credential`). */
  userNamespace: boolean;
}

/**
 * The host uids shared by two or more applications that have no user namespace of their own, or by such an
 * application and an unprivileged wardend. Processes of one uid may ptrace each other and open each other's
 * /proc/PID/mem, so each can read and write the other's memory, its shared-memory request channel included (Unit
 * shares a user the same way). Apps with a user namespace are left out, as the issue asks: their ids are the ids
 * inside it.
 */
export function sharedIdentities(apps: readonly AppIdentity[], daemonUid: number): SharedIdentity[] {
  const byUid = new Map<number, string[]>();
  for (const app of apps) {
    if (app.userNamespace) continue;
    const names = byUid.get(app.uid) ?? [];
    names.push(app.name);
    byUid.set(app.uid, names);
  }
  const shared: SharedIdentity[] = [];
  for (const [uid, names] of byUid) {
    const daemon = daemonUid !== 0 && uid === daemonUid;
    if (names.length >= 2 || daemon) shared.push({ uid, apps: names, daemon });
  }
  return shared;
}

/** The warning wardend logs for a {@link SharedIdentity}: what is exposed and what to configure instead. */
export function sharedIdentityWarning(s: SharedIdentity): string {
  const apps = s.apps.map((a) => `"${a}"`).join(', ');
  const who = s.daemon ? `application${s.apps.length > 1 ? 's' : ''} ${apps} and wardend itself` : `applications ${apps}`;
  return (
    `${who} run as the same uid ${s.uid} without a credential namespace: each can read and write the others' memory, ` +
    'and so their request channels, through /proc/PID/mem or ptrace. Give each application its own "user", or turn on ' +
    '"isolation.namespaces.credential" for it.'
  );
}
