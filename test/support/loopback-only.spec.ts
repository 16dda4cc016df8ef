import dns from 'node:dns';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { installLoopbackTripwire, isLoopbackAddress, type LoopbackTripwire } from './loopback-only';

/**
 * The tripwire other tests rely on to prove they never left 127.0.0.0/8. Every refusal here is of
 * a target that cannot leave the machine even if the tripwire were broken (0.0.0.0 is this host,
 * `.invalid` never resolves), so this file obeys the rule it checks.
 */
let tripwire: LoopbackTripwire | undefined;
afterEach(() => {
  tripwire?.uninstall();
  tripwire = undefined;
});

function attempt(options: net.NetConnectOpts): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(options);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function listening(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('loopback tripwire (test support)', () => {
  it('classifies 127.0.0.0/8, ::1 and mapped loopback as loopback, nothing else', () => {
    for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['0.0.0.0', '10.0.0.1', '169.254.169.254', '::', '::ffff:10.0.0.1', '8.8.8.8', 'localhost']) {
      expect(isLoopbackAddress(a)).toBe(false);
    }
  });

  it('lets loopback connections through and records the address connected to', async () => {
    const server = await listening();
    tripwire = installLoopbackTripwire();
    try {
      expect(await attempt({ host: '127.0.0.1', port: server.port })).toBe('connected');
      expect(await attempt({ host: 'localhost', port: server.port, family: 4 })).toBe('connected');
      expect(tripwire.connections.map((c) => c.address)).toEqual(['127.0.0.1', '127.0.0.1']);
      expect(tripwire.refused).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('refuses a non-loopback address literal before connecting', async () => {
    const server = await listening();
    tripwire = installLoopbackTripwire();
    try {
      expect(await attempt({ host: '0.0.0.0', port: server.port })).toBe('ERR_LOOPBACK_TRIPWIRE');
      expect(tripwire.refused).toEqual([`connect 0.0.0.0:${server.port}`]);
      expect(tripwire.connections).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('refuses a host name without asking DNS, and any lookup answering outside loopback', async () => {
    tripwire = installLoopbackTripwire();
    expect(await attempt({ host: 'igw-tripwire.invalid', port: 443 })).toBe('ERR_LOOPBACK_TRIPWIRE');
    const answer: net.LookupFunction = (_h, o, cb) => {
      if (o.all === true) (cb as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address: '0.0.0.0', family: 4 }]);
      else cb(null, '0.0.0.0', 4);
    };
    expect(await attempt({ host: 'store.example', port: 443, lookup: answer })).toBe('ERR_LOOPBACK_TRIPWIRE');
    await expect(dns.promises.lookup('igw-tripwire.invalid')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    const cbErr = await new Promise<string | undefined>((r) => dns.lookup('igw-tripwire.invalid', (e) => r(e?.code)));
    expect(cbErr).toBe('ENOTFOUND');
    expect(tripwire.refused).toEqual([
      'connect igw-tripwire.invalid:443',
      'lookup store.example → 0.0.0.0',
      'dns igw-tripwire.invalid',
      'dns igw-tripwire.invalid',
    ]);
  });

  it('restores net and dns when uninstalled', () => {
    const connect = net.Socket.prototype.connect;
    const lookup = dns.lookup;
    installLoopbackTripwire().uninstall();
    expect(net.Socket.prototype.connect).toBe(connect);
    expect(dns.lookup).toBe(lookup);
  });
});
