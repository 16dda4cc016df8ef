// The module object itself (a namespace import is frozen): its lookup is what net and SDKs call.
import dns from 'node:dns';
import { isIP, type LookupFunction, Socket } from 'node:net';

/**
 * A tripwire for tests that exercise code able to reach the internet (ambient credential chains,
 * hard-coded Google endpoints): while installed, every outgoing TCP connection of this process
 * must go to 127.0.0.0/8 or ::1, and no host name other than `localhost` may be looked up in DNS.
 * Anything else is refused *before* a packet leaves (no SYN, no DNS query) and recorded, so a test
 * asserts `refused` is empty to prove it never tried. IPC paths (unix sockets) are not TCP and pass.
 */
export interface LoopbackTripwire {
  /** Connections that were made: the host asked for, the port, and the address connected to. */
  readonly connections: { host: string; port: number; address: string }[];
  /** What would have left loopback, refused: `connect <host>:<port>`, `lookup <host> → <address>`, `dns <name>`. */
  readonly refused: string[];
  uninstall(): void;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (isIP(a) === 4) return a.startsWith('127.');
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped !== null && mapped[1]!.startsWith('127.');
}

const LOCAL_NAMES = new Set(['localhost']);

interface ConnectTarget {
  host: string;
  port: number;
  lookup?: LookupFunction;
  /** The options object the caller passed, when there is one (its lookup gets wrapped). */
  options?: Record<string, unknown>;
  ipc: boolean;
}

/** Reads the target out of Socket#connect's overloads (options, [port, host], path, normalised array). */
function targetOf(args: unknown[]): ConnectTarget {
  let first = args[0];
  // net.connect() hands over its already-normalised [options, callback] array.
  if (Array.isArray(first)) first = first[0];
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>;
    if (typeof o.path === 'string') return { host: o.path, port: 0, ipc: true };
    return {
      host: typeof o.host === 'string' ? o.host : 'localhost',
      port: Number(o.port ?? 0),
      ...(typeof o.lookup === 'function' ? { lookup: o.lookup as LookupFunction } : {}),
      options: o,
      ipc: false,
    };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { host: first, port: 0, ipc: true };
  return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(first), ipc: false };
}

const refusal = (what: string) =>
  Object.assign(new Error(`loopback tripwire: refused ${what}`), { code: 'ERR_LOOPBACK_TRIPWIRE' });

export function installLoopbackTripwire(): LoopbackTripwire {
  const connections: LoopbackTripwire['connections'] = [];
  const refused: string[] = [];
  const originalConnect = Socket.prototype.connect;
  const originalLookup = dns.lookup;
  const originalPromisesLookup = dns.promises.lookup;

  const nameAllowed = (name: string) => isIP(name) !== 0 || LOCAL_NAMES.has(name.toLowerCase());

  /** A lookup whose answers must all be loopback; anything else fails the connection instead. */
  const checkedLookup =
    (inner: LookupFunction, host: string): LookupFunction =>
    (hostname, options, callback) => {
      inner(hostname, options, (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => {
        if (err !== null) {
          callback(err, '', 4);
          return;
        }
        const list = Array.isArray(address)
          ? (address as { address: string }[]).map((a) => a.address)
          : [String(address)];
        const outside = list.filter((a) => !isLoopbackAddress(a));
        if (outside.length > 0) {
          refused.push(`lookup ${host} → ${outside.join(',')}`);
          callback(refusal(`${host} resolved to ${outside.join(',')}`), '', 4);
          return;
        }
        (callback as (e: null, a: unknown, f?: number) => void)(null, address, family);
      });
    };

  Socket.prototype.connect = function (this: Socket, ...args: unknown[]): Socket {
    const t = targetOf(args);
    if (t.ipc) return (originalConnect as (...a: unknown[]) => Socket).apply(this, args);
    const where = `${t.host}:${t.port}`;
    let allowed: boolean;
    if (isIP(t.host) !== 0) allowed = isLoopbackAddress(t.host);
    else if (t.options !== undefined && (t.lookup !== undefined || nameAllowed(t.host))) {
      // A name: whichever lookup runs (a custom one, e.g. an SSRF guard's, or dns.lookup for
      // localhost) must answer with loopback addresses only.
      t.options.lookup = checkedLookup(t.lookup ?? dns.lookup, t.host);
      allowed = true;
    } else allowed = nameAllowed(t.host);
    if (!allowed) {
      refused.push(`connect ${where}`);
      process.nextTick(() => this.destroy(refusal(`connection to ${where}`)));
      return this;
    }
    this.once('connect', () => connections.push({ host: t.host, port: t.port, address: this.remoteAddress ?? '' }));
    return (originalConnect as (...a: unknown[]) => Socket).apply(this, args);
  };

  // No real DNS for names other than localhost: a refused name fails like NXDOMAIN.
  const patchedLookup = function (hostname: string, ...rest: unknown[]): void {
    const callback = rest.at(-1) as (err: NodeJS.ErrnoException | null, ...r: unknown[]) => void;
    if (!nameAllowed(hostname)) {
      refused.push(`dns ${hostname}`);
      process.nextTick(() => callback(Object.assign(refusal(`DNS lookup of ${hostname}`), { code: 'ENOTFOUND' })));
      return;
    }
    (originalLookup as (...a: unknown[]) => void)(hostname, ...rest);
  };
  (dns as { lookup: unknown }).lookup = patchedLookup;
  (dns.promises as { lookup: unknown }).lookup = (hostname: string, options?: unknown) => {
    if (!nameAllowed(hostname)) {
      refused.push(`dns ${hostname}`);
      return Promise.reject(Object.assign(refusal(`DNS lookup of ${hostname}`), { code: 'ENOTFOUND' }));
    }
    return (originalPromisesLookup as (h: string, o?: unknown) => Promise<unknown>)(hostname, options);
  };

  return {
    connections,
    refused,
    uninstall() {
      Socket.prototype.connect = originalConnect;
      (dns as { lookup: unknown }).lookup = originalLookup;
      (dns.promises as { lookup: unknown }).lookup = originalPromisesLookup;
    },
  };
}
