// Types of test/soak/soak.js (plain CommonJS so that `npm run soak` needs no compile step).

/** fd count and RSS of every wardend process, and the zombies under wardend, at one moment. */
export interface SoakMeasure {
  /** Per process: resident memory in KiB, and its anonymous (heap) and shared-memory (channel) parts. */
  procs: { pid: number; fds: number; rssKiB: number; anonKiB: number; shmemKiB: number }[];
  fds: number;
  rssKiB: number;
  zombies: string[];
}

/** Options of one soak run; every one has a default (see DEFAULTS). */
export interface SoakOptions {
  duration?: number;
  connections?: number;
  warmup?: number;
  isolated?: boolean;
  killPrototypes?: boolean;
  /** Kill a router process too (the first time it can, then a tenth of the kills), when there are two or more. */
  killRouters?: boolean;
  /** Router processes of the soak's wardend (`--routers`, default 2). */
  routers?: number;
  changeEveryMs?: number;
  requestTimeoutMs?: number;
  killGraceMs?: number;
  killNoticeMs?: number;
  fdTolerance?: number;
  rssGrowthLimit?: number;
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

/** What one soak run measured, and its verdict. */
export interface SoakReport {
  passed: boolean;
  problems: string[];
  options: { duration: number; connections: number; apps: string[]; killPrototypes: boolean };
  requests: {
    sent: number;
    answered: number;
    failed: number;
    killedByPid: number;
    killedByWindow: number;
    /** In flight on a router process the chaos loop killed. */
    killedByRouter: number;
    unexplained: number;
    byKind: Record<string, number>;
  };
  unexplainedReasons: Record<string, number>;
  kills: { processes: number; prototypes: number; routers: number };
  changes: { ok: number; failed: string[] };
  settled: boolean;
  start: SoakMeasure;
  end: SoakMeasure;
  rssGrowth: number;
  logErrors: number;
  /** The printed report. */
  text: string;
}

export const DEFAULTS: Required<SoakOptions>;
/** Runs one soak against a wardend of its own and resolves with the report (rejects only when it cannot set up). */
export function runSoak(options?: SoakOptions): Promise<SoakReport>;
