import type { Logger } from 'pino';
import type { RouterChannel } from '@warden/shm-transport';
import type { ProcessActivity, RouterPoolPolicy } from './protocol';

/**
 * A request in flight on a process, as the gateway tracks it (an intrusive list: no allocation per request). The
 * pool moves the ones the app has not read yet to another process when this one stops reading.
 */
export interface InFlight {
  prev: InFlight | null;
  next: InFlight | null;
  /** The channel's write position when the request was sent (see RouterChannel.writePosition). */
  sentAt: number;
  /** Whether the request may be sent again elsewhere: no body, an idempotent method, no response yet. */
  movable(): boolean;
  /** Sends the request to `to` instead (the stream on this process is aborted, unless release() did it already). */
  moveTo(to: ChannelWorker): void;
  /** Takes the request off this process (its stream aborted) until moveTo() or giveUp(). */
  release(): void;
  /** No process took it over: the client gets 503 (unless it went away meanwhile). */
  giveUp(): void;
}

/** A process as one router sees it: the channel this router has to it, and the requests this router sent there. */
export class ChannelWorker {
  state: 'starting' | 'running' | 'draining' | 'gone' = 'starting';
  pid = 0;
  served = 0;
  inflight = 0;
  idleSince = 0;
  stalled = false;
  lastRead = 0;
  progressAt = 0;
  /** Numbers changed since the last activity report to main. */
  dirty = true;
  /** Reported to main for replacement (once). */
  reported = false;
  private first: InFlight | null = null;

  constructor(
    readonly token: number,
    readonly channel: RouterChannel,
  ) {}

  attach(r: InFlight): void {
    this.inflight++;
    this.dirty = true;
    r.prev = null;
    r.next = this.first;
    if (this.first) this.first.prev = r;
    this.first = r;
  }

  detach(r: InFlight): void {
    if (r.prev) r.prev.next = r.next;
    else if (this.first === r) this.first = r.next;
    else return;
    if (r.next) r.next.prev = r.prev;
    r.prev = r.next = null;
    this.dirty = true;
    if (--this.inflight === 0) this.idleSince = Date.now();
  }

  /** Requests in flight whose REQUEST frame the app has provably not read (at or after its read position). */
  unread(): InFlight[] {
    const read = this.channel.readPosition();
    const out: InFlight[] = [];
    for (let r = this.first; r; r = r.next) if (((read - r.sentAt) | 0) <= 0 && r.movable()) out.push(r);
    return out;
  }

  activity(): ProcessActivity {
    return {
      token: this.token,
      inflight: this.inflight,
      served: this.served,
      idleSince: this.idleSince,
      stalled: this.stalled,
      ringFullWaits: this.channel.ringFullWaits,
      creditWaits: this.channel.creditWaits,
    };
  }
}

/** Longest queue of requests waiting for a process before new ones get 503. */
const MAX_WAITING = 4096;
/** A process with unread requests that read nothing for this long is out of rotation (as in one wardend process). */
export const STALL_MS = 300;
/** How long a demand for another process is outstanding before the router may ask again. */
const DEMAND_RETRY_MS = 250;

type Waiter = (worker: ChannelWorker | undefined) => void;

/** What a router pool tells main. */
export interface PoolUplink {
  demand(pool: number): void;
  replace(token: number, why: 'stalled' | 'protocol' | 'requests'): void;
}

/**
 * One application's processes as one router dispatches to them: the least busy running process that is not
 * stalled; requests wait (up to the policy's wait) while main starts one; a process that stopped reading its
 * requests leaves the rotation and its unread requests move elsewhere. Process lifetimes are main's: this pool asks
 * main for more (demand) and reports processes to replace; main tells it which processes exist.
 */
export class RouterPool {
  readonly workers: ChannelWorker[] = [];
  private readonly waiting: { cb: Waiter; at: number }[] = [];
  private demandedAt = 0;
  closed = false;

  constructor(
    readonly id: number,
    readonly app: string,
    readonly policy: RouterPoolPolicy,
    private readonly uplink: PoolUplink,
    private readonly log: Logger,
  ) {}

  /** Hands a process to `cb` for one request, or `undefined` (503) when none can take it in time. */
  acquire(cb: Waiter): void {
    const worker = this.pick();
    if (worker) {
      cb(worker);
      return;
    }
    if (this.closed || this.waiting.length >= MAX_WAITING) {
      cb(undefined);
      return;
    }
    this.waiting.push({ cb, at: Date.now() });
    this.demand();
  }

  private demand(): void {
    const now = Date.now();
    if (now - this.demandedAt < DEMAND_RETRY_MS) return;
    if (this.live() >= this.policy.max) return;
    this.demandedAt = now;
    this.uplink.demand(this.id);
  }

  private live(): number {
    let n = 0;
    for (const w of this.workers) if (w.state === 'running' || w.state === 'starting') n++;
    return n;
  }

  /**
   * Unit's `spare` (nxt_router_app_need_start): once `taken` has this request, fewer than `spare` processes are idle
   * or starting, so another one starts, to be ready for the next request.
   */
  private fewIdle(taken: ChannelWorker): boolean {
    const spare = this.policy.spare;
    if (spare <= 0) return false;
    let ready = 0;
    for (const w of this.workers) {
      if (w.state === 'starting' || (w.state === 'running' && !w.stalled && w.inflight === 0 && w !== taken)) ready++;
    }
    return ready < spare;
  }

  leastBusy(): ChannelWorker | undefined {
    let best: ChannelWorker | undefined;
    for (const w of this.workers) {
      if (w.state !== 'running' || w.stalled) continue;
      if (!best || w.inflight < best.inflight) best = w;
    }
    return best;
  }

  private pick(): ChannelWorker | undefined {
    let best = this.leastBusy();
    if (!best) {
      if (this.live() < this.policy.max) return undefined;
      for (const w of this.workers) if (w.state === 'running' && (!best || w.inflight < best.inflight)) best = w;
      if (!best) return undefined;
    } else if (this.live() < this.policy.max && (best.inflight > 0 || this.fewIdle(best))) {
      this.demand();
    }
    best.served++;
    best.dirty = true;
    if (this.policy.maxRequests > 0 && best.served >= this.policy.maxRequests) {
      // Unit's limits.requests: this router sends it no more; main replaces it (and tells the other routers).
      best.state = 'draining';
      this.uplink.replace(best.token, 'requests');
    }
    return best;
  }

  /** A process main started: in rotation once its app said READY on this router's channel. */
  add(worker: ChannelWorker): void {
    this.workers.push(worker);
  }

  ready(worker: ChannelWorker): void {
    if (worker.state !== 'starting') return;
    worker.state = 'running';
    worker.idleSince = worker.progressAt = Date.now();
    worker.dirty = true;
    this.demandedAt = 0;
    this.flushWaiting();
  }

  remove(worker: ChannelWorker): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  /** Main could not start a process (and none runs): the waiting requests get 503 now rather than at their deadline. */
  failed(): void {
    if (this.live() > 0) return;
    for (const w of this.waiting.splice(0)) w.cb(undefined);
    this.demandedAt = 0;
  }

  private flushWaiting(): void {
    while (this.waiting.length > 0) {
      const worker = this.pick();
      if (!worker) return;
      this.waiting.shift()!.cb(worker);
    }
  }

  tick(now: number): void {
    while (this.waiting.length > 0 && now - this.waiting[0]!.at >= this.policy.waitMs) this.waiting.shift()!.cb(undefined);
    if (this.waiting.length > 0) this.demand();
    this.checkHealth(now);
  }

  /**
   * A process whose channel holds requests it has not read, and that read nothing for STALL_MS, is stalled: it
   * leaves this router's rotation and the requests it never read move to a healthy process. Stalled for the health
   * deadline, it is reported to main, which replaces it.
   */
  private checkHealth(now: number): void {
    for (const w of this.workers) {
      if (w.state !== 'running') continue;
      const read = w.channel.readPosition();
      if (read === w.channel.writePosition || read !== w.lastRead) {
        w.lastRead = read;
        w.progressAt = now;
        if (w.stalled) {
          w.stalled = false;
          w.dirty = true;
          this.log.info({ app_pid: w.pid }, 'app process reads its requests again; back in rotation');
        }
        continue;
      }
      const quiet = now - w.progressAt;
      if (quiet >= this.policy.healthDeadlineMs) {
        if (!w.reported) {
          w.reported = true;
          this.log.error({ app_pid: w.pid, quiet_ms: quiet }, 'app process has not read its requests in time; replacing it');
          this.uplink.replace(w.token, 'stalled');
        }
        w.state = 'draining';
        this.rescue(w, true);
        continue;
      }
      if (!w.stalled && quiet >= STALL_MS) {
        w.stalled = true;
        w.dirty = true;
        this.log.warn({ app_pid: w.pid, quiet_ms: quiet, inflight: w.inflight }, 'app process is not reading its requests; out of rotation');
      }
      if (w.stalled) this.rescue(w, false);
    }
  }

  private rescue(w: ChannelWorker, replacing: boolean): void {
    if (w.inflight === 0) return;
    for (const r of w.unread()) {
      const to = this.leastBusy();
      if (to) {
        r.moveTo(to);
        continue;
      }
      const canGrow = this.live() < this.policy.max;
      if (this.closed || this.waiting.length >= MAX_WAITING || !(replacing || canGrow)) return;
      r.release();
      this.waiting.push({ cb: (next) => (next ? r.moveTo(next) : r.giveUp()), at: Date.now() });
      this.demand();
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.cb(undefined);
  }
}
