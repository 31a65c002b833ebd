/**
 * The long-lived `ip -batch` children (agent/net/ip-batch.ts): ending one that will not go. The
 * children that do go at the end of their input are the reader's and the deleter's tests
 * (neighbour-reader.test.ts, neighbour-release.test.ts).
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { IpChildren } from '../../agent/net/ip-batch.js';
import { ownChildren } from '../support/child-processes.js';

describe('IpChildren', () => {
  it('kills a child that ignores the end of its input and SIGTERM, and end() resolves once it has gone', async () => {
    const children = new IpChildren();
    // Ignores SIGTERM and its input's end, and says so once it does.
    const child = children.start([process.execPath, '-e', 'process.on("SIGTERM",()=>{});process.stdin.resume();setInterval(()=>{},1000);console.log("ready")'], { stdout: 'pipe', stderr: 'ignore' });
    await once(child.stdout as NodeJS.ReadableStream, 'data');
    await children.endAll(100);
    expect(child.signalCode).toBe('SIGKILL');
    expect(ownChildren()).toEqual([]);
    expect(children.started).toBe(1);
    // Gone already: nothing to wait for.
    await children.end(child, 100);
  });
});
