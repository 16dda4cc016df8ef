import { promises as dns } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { BlockList, isIP } from 'node:net';
import type { AppConfig } from '@gw/config';
import { storageErrors } from './storage.errors';

/** What outgoing storage connections may reach (spec §5). */
export interface EgressPolicy {
  /** `true`: loopback/private/link-local allowed (tests, on-prem). */
  allowPrivateAll: boolean;
  /** CIDR ranges exempted from the private-address refusal (e.g. an on-prem MinIO subnet). */
  allowPrivateCidrs: readonly string[];
  allowHttp: boolean;
  /** Empty = any public host. `*.example.com` matches every sub-domain of example.com. */
  allowedHosts: readonly string[];
  /** Checked before the allow list. */
  deniedHosts: readonly string[];
  /** At most this many redirects, each re-checked. */
  maxRedirects: number;
  /** Extra trusted CA certificates (PEM) for TLS to object stores. */
  ca?: string;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
/** Injectable DNS: tests return private addresses without any lookup or connection. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (host) => {
  const found = await dns.lookup(host, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export function egressPolicyFrom(config: AppConfig['storage']): EgressPolicy {
  return {
    allowPrivateAll: config.allowPrivateNetworks.all,
    allowPrivateCidrs: config.allowPrivateNetworks.cidrs,
    allowHttp: config.allowHttp,
    allowedHosts: config.allowedHosts,
    deniedHosts: config.deniedHosts,
    maxRedirects: 3,
    ...(config.caPem === undefined ? {} : { ca: config.caPem }),
  };
}

// ---------------------------------------------------------------------------------------------
// Address classification

export type AddressClass = 'public' | 'private' | 'metadata';

const NON_PUBLIC_V4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes 255.255.255.255 broadcast
];
const NON_PUBLIC_V6: readonly [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128],
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
];
/**
 * Cloud metadata and credential endpoints. Whole ranges where a provider serves more than one
 * address from it: 169.254.0.0/16 (AWS 169.254.169.254 and 169.254.170.2/.23 for ECS/EKS Pod
 * Identity, GCP, Azure, Oracle) and fd00:ec2::/32 (AWS IPv6 IMDS and its neighbours); single
 * addresses otherwise (GCP IPv6 fd20:ce::254, Alibaba, Oracle's 192.0.0.192). They stay refused
 * even with STORAGE_ALLOW_PRIVATE_NETWORKS=true: no object store lives there.
 */
const METADATA_RANGES: readonly [string, number][] = [
  ['169.254.0.0', 16],
  ['fd00:ec2::', 32],
];
const METADATA = ['fd20:ce::254', '100.100.100.200', '192.0.0.192'];

const nonPublic = new BlockList();
for (const [net, prefix] of NON_PUBLIC_V4) nonPublic.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of NON_PUBLIC_V6) nonPublic.addSubnet(net, prefix, 'ipv6');
const metadata = new BlockList();
for (const a of METADATA) metadata.addAddress(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
for (const [net, prefix] of METADATA_RANGES) metadata.addSubnet(net, prefix, isIP(net) === 6 ? 'ipv6' : 'ipv4');

/** 16 bytes of an IPv6 address (any textual form Node accepts), or null. */
function v6Bytes(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // Trailing dotted quad (::ffff:1.2.3.4) → two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const p = dotted[1]!.split('.').map(Number);
    text =
      text.slice(0, -dotted[1]!.length) +
      `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const bytes: number[] = [];
  for (const g of groups) {
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

/** The IPv4 address embedded in IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms. */
export function embeddedIPv4(address: string): string | null {
  const b = v6Bytes(address);
  if (b === null) return null;
  const quad = (i: number) => `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return quad(12); // ::ffff:a.b.c.d
  if (zero(0, 12) && !(zero(12, 15) && (b[15] ?? 0) <= 1)) return quad(12); // ::a.b.c.d (deprecated)
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return quad(12); // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return quad(2); // 2002::/16 6to4
  return null;
}

/** Classifies one resolved address. Mapped/NAT64 forms are judged by the IPv4 inside. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) return 'private'; // not an address at all: never treat as public
  const v4 = family === 6 ? embeddedIPv4(address) : address;
  if (v4 !== null && v4 !== address) return classifyAddress(v4);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const bare = address.split('%')[0]!;
  if (metadata.check(bare, type)) return 'metadata';
  return nonPublic.check(bare, type) ? 'private' : 'public';
}

function cidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, bits] = c.split('/') as [string, string];
    const fam = isIP(net);
    if (fam !== 0) list.addSubnet(net, Number(bits), fam === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/**
 * True when a connection to `address` is allowed. Metadata addresses stay refused even with
 * STORAGE_ALLOW_PRIVATE_NETWORKS=true unless a CIDR entry names them explicitly: no object store
 * lives there, and a redirect to it is the classic SSRF credential theft.
 */
export function isAddressAllowed(address: string, policy: EgressPolicy): boolean {
  const cls = classifyAddress(address);
  if (cls === 'public') return true;
  const v4 = isIP(address) === 6 ? embeddedIPv4(address) : null;
  const candidates = v4 === null ? [address.split('%')[0]!] : [address.split('%')[0]!, v4];
  const exempt = candidates.some((a) => cidrList(policy.allowPrivateCidrs).check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
  if (exempt) return true;
  return cls === 'private' && policy.allowPrivateAll;
}

// ---------------------------------------------------------------------------------------------
// Host names

const INTERNAL_NAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

function matchesPattern(host: string, pattern: string): boolean {
  const p = pattern.trim().toLowerCase().replace(/\.$/, '');
  if (p === '') return false;
  if (p.startsWith('*.')) return host.endsWith(p.slice(1));
  return host === p;
}

function normaliseHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/**
 * Checks that need no DNS: deny/allow lists, internal names and literal addresses. Throws the
 * §5 error naming only the host.
 */
export function checkHostName(rawHost: string, policy: EgressPolicy): void {
  const host = normaliseHost(rawHost);
  if (policy.deniedHosts.some((p) => matchesPattern(host, p))) throw storageErrors.hostNotAllowed(host);
  if (policy.allowedHosts.length > 0 && !policy.allowedHosts.some((p) => matchesPattern(host, p))) {
    throw storageErrors.hostNotAllowed(host);
  }
  const internal = INTERNAL_NAMES.has(host) || host.endsWith('.localhost');
  if (internal && (!policy.allowPrivateAll || host.startsWith('metadata') || host.startsWith('instance-data'))) {
    throw storageErrors.hostNotAllowed(host);
  }
  if (isIP(host) !== 0 && !isAddressAllowed(host, policy)) throw storageErrors.hostNotAllowed(host);
}

/**
 * The SSRF guard: one resolution per connection, every address checked, and the connection
 * pinned to the checked addresses so a second (rebinding) lookup cannot happen.
 */
export class EgressGuard {
  constructor(
    readonly policy: EgressPolicy,
    private readonly resolver: Resolver = systemResolver,
  ) {}

  /** TLS options every https agent of a driver adds: the configured extra CAs, if any. */
  get tls(): { ca?: string } {
    return this.policy.ca === undefined ? {} : { ca: this.policy.ca };
  }

  /** Resolves and checks a host; returns the addresses a connection may use. */
  async resolve(rawHost: string): Promise<ResolvedAddress[]> {
    const host = normaliseHost(rawHost);
    checkHostName(host, this.policy);
    const family = isIP(host);
    if (family !== 0) return [{ address: host, family: family === 6 ? 6 : 4 }];
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.resolver(host);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      // NXDOMAIN is permanent for this job; SERVFAIL/timeouts are worth a retry.
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw storageErrors.notFound(`${host} (host not found)`);
      throw storageErrors.transient(host, 'DNS lookup failed');
    }
    if (addresses.length === 0) throw storageErrors.notFound(`${host} (host not found)`);
    if (addresses.some((a) => !isAddressAllowed(a.address, this.policy))) throw storageErrors.hostNotAllowed(host);
    return addresses;
  }

  /** Scheme check for URLs and redirect targets. */
  checkScheme(url: URL, from?: URL): void {
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && this.policy.allowHttp) return;
    if (from !== undefined && url.protocol === 'http:') throw storageErrors.hostNotAllowed(url.hostname);
    throw storageErrors.invalidUrl(`${url.protocol}//${url.host}${url.pathname}`);
  }

  /**
   * A `lookup` for http(s).Agent / net.connect: resolves and checks at connect time, which is
   * the only place that covers DNS answers changing between a check and the connection.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname).then(
      (addrs) => {
        const wanted =
          options.family === 4 || options.family === 6 ? addrs.filter((a) => a.family === options.family) : addrs;
        const list = wanted.length > 0 ? wanted : addrs;
        if (options.all === true) {
          (callback as (err: null, addresses: ResolvedAddress[]) => void)(null, list);
        } else {
          const first = list[0]!;
          callback(null, first.address, first.family);
        }
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };
}

/** A lookup that answers only with addresses already checked (no second DNS query). */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted =
      options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const list = wanted.length > 0 ? wanted : addresses;
    if (options.all === true) {
      (callback as (err: null, addresses: readonly ResolvedAddress[]) => void)(null, list);
    } else {
      const first = list[0]!;
      callback(null, first.address, first.family);
    }
  };
}
