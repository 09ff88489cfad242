/**
 * A response head waits for the first body bytes so that both leave in one write; one that has none after a full
 * turn of the event loop goes alone. An app that sends its head before any body (node:http's `res.flushHeaders()`,
 * Server-Sent Events, a long poll) is answered then, as the app served directly is, instead of when its first event
 * comes (minutes later, for an event stream). Aged over two check phases, so that a head and a body the app
 * published one after the other are not split into two writes because the router read between them.
 */

/** An exchange that may hold a response head back. */
export interface HeadHolder {
  /** Sends the response head now if it is still held (a no-op once any of the response went out, or it ended). */
  flushPendingHead(): void;
}

let young: HeadHolder[] = [];
let old: HeadHolder[] = [];
let scheduled = false;

/** `h` holds a head from now: it is sent after a turn unless the body (or the end) took it along before. */
export function flushLater(h: HeadHolder): void {
  young.push(h);
  if (!scheduled) {
    scheduled = true;
    setImmediate(sweep);
  }
}

function sweep(): void {
  scheduled = false;
  const due = old;
  old = young;
  young = due;
  for (let i = 0; i < due.length; i++) due[i]!.flushPendingHead();
  due.length = 0;
  if (old.length > 0) {
    scheduled = true;
    setImmediate(sweep);
  }
}
