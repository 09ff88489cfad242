import * as http from 'http';
import { checkNodeInternals, describeProblems, resumeScheduled, takeNeedDrain } from '../src/runtime/node-internals';

describe(`node internals the runtime relies on (Node ${process.version})`, () => {
  it('are all present and behave as the runtime expects on this Node', () => {
    const problems = checkNodeInternals();
    // On failure the message names each internal that changed and the Node version, e.g.
    // "Node v24.0.0 changed kNeedDrain (OutgoingMessage): no own symbol described "kNeedDrain" on a new OutgoingMessage".
    if (problems.length) throw new Error(describeProblems(problems));
  });

  it('names the internal and the Node version in the failure message', () => {
    expect(describeProblems([{ internal: 'kNeedDrain (OutgoingMessage)', detail: 'no such symbol' }], 'v99.0.0')).toBe(
      'Node v99.0.0 changed kNeedDrain (OutgoingMessage): no such symbol',
    );
  });

  it('takeNeedDrain reports and clears the flag that write() set when the socket was full', () => {
    const req = new http.IncomingMessage(null as never);
    const res = new http.ServerResponse(req);
    expect(takeNeedDrain(res)).toBe(false);
    const kNeedDrain = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kNeedDrain')!;
    (res as unknown as Record<symbol, boolean>)[kNeedDrain] = true;
    expect(res.writableNeedDrain).toBe(true);
    expect(takeNeedDrain(res)).toBe(true);
    expect(res.writableNeedDrain).toBe(false);
  });

  it('resumeScheduled is true between resume() and the stream starting to flow', async () => {
    const req = new http.IncomingMessage(null as never);
    expect(resumeScheduled(req)).toBe(false);
    req.resume();
    expect(resumeScheduled(req)).toBe(true);
    await new Promise((r) => process.nextTick(r));
    expect(resumeScheduled(req)).toBe(false);
  });
});
