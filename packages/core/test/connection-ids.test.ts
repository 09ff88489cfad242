import { EventEmitter } from 'events';
import type { Socket } from 'net';
import type { RouterChannel } from '@warden/shm-transport';
import { connectionId } from '../src/runtime/app-gateway';

/** A channel stand-in that records the CONN_CLOSED ids it was asked to send. */
function channel(): RouterChannel & { closed: number[] } {
  const closed: number[] = [];
  return { closed, connectionClosed: (id: number) => closed.push(id) } as unknown as RouterChannel & { closed: number[] };
}

function socket(): Socket {
  return Object.assign(new EventEmitter(), { destroyed: false }) as unknown as Socket;
}

describe('connection ids (PROTOCOL.md "Connections")', () => {
  it('numbers connection ids per channel, so an app learns nothing of the connections other apps got', () => {
    const a = channel();
    const b = channel();
    const [s1, s2, s3, s4] = [socket(), socket(), socket(), socket()];
    expect(connectionId(s1, a)).toBe(1);
    expect(connectionId(s2, b)).toBe(1);
    expect(connectionId(s3, b)).toBe(2);
    expect(connectionId(s4, b)).toBe(3);
    // Three connections went to the other app meanwhile: this one's next id is still the next of its own.
    expect(connectionId(s2, a)).toBe(2);
    expect(connectionId(s1, a)).toBe(1); // the same connection keeps its id
  });

  it('tells every channel that saw a connection that it closed, each with its own id for it', () => {
    const a = channel();
    const b = channel();
    const [s1, s2] = [socket(), socket()];
    connectionId(s1, a);
    connectionId(s2, a);
    connectionId(s2, b);
    s2.emit('close');
    expect(a.closed).toEqual([2]);
    expect(b.closed).toEqual([1]);
    s1.emit('close');
    expect(a.closed).toEqual([2, 1]);
  });
});
