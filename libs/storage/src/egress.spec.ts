import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  EgressGuard,
  classifyAddress,
  embeddedIPv4,
  isAddressAllowed,
  type EgressPolicy,
  type Resolver,
} from './egress';

const strict: EgressPolicy = {
  allowPrivateAll: false,
  allowPrivateCidrs: [],
  allowHttp: false,
  allowedHosts: [],
  deniedHosts: [],
  maxRedirects: 3,
};

afterEach(() => vi.restoreAllMocks());

describe('address classifier', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:10.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:1',
    '64:ff9b::127.0.0.1',
    '2002:c0a8:0101::1',
  ])('classifies %s as private', (a) => {
    expect(classifyAddress(a)).toBe('private');
  });

  it.each([
    '169.254.169.254',
    '::ffff:169.254.169.254',
    'fd00:ec2::254',
    '100.100.100.200',
    '64:ff9b::a9fe:a9fe',
    // the whole link-local /16: ECS/EKS credential endpoints and whatever a provider adds next
    '169.254.170.2',
    '169.254.170.23',
    '169.254.0.1',
    '169.254.255.255',
    '::ffff:169.254.170.23',
    // the whole AWS IPv6 metadata /32 (fd00:ec2::23 is the EKS Pod Identity agent)
    'fd00:ec2::23',
    'fd00:ec2:ffff::1',
    // GCP's IPv6 metadata server
    'fd20:ce::254',
  ])('classifies %s as cloud metadata', (a) => {
    expect(classifyAddress(a)).toBe('metadata');
  });

  it.each(['8.8.8.8', '52.216.1.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'classifies %s as public',
    (a) => {
      expect(classifyAddress(a)).toBe('public');
    },
  );

  it('extracts the IPv4 inside mapped and NAT64 forms', () => {
    expect(embeddedIPv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(embeddedIPv4('64:ff9b::0a01:0203')).toBe('10.1.2.3');
    expect(embeddedIPv4('2606:4700::1')).toBeNull();
  });

  it('lets STORAGE_ALLOW_PRIVATE_NETWORKS=true open private but not metadata addresses', () => {
    const open = { ...strict, allowPrivateAll: true };
    expect(isAddressAllowed('10.0.0.1', open)).toBe(true);
    expect(isAddressAllowed('fd00:ec3::1', open)).toBe(true); // unique-local next to the AWS /32
    expect(isAddressAllowed('fd20:ce::253', open)).toBe(true);
    for (const a of ['169.254.169.254', '169.254.170.23', '169.254.7.7', 'fd00:ec2::23', 'fd20:ce::254']) {
      expect(isAddressAllowed(a, open), a).toBe(false);
    }
  });

  it('exempts only the listed CIDR ranges', () => {
    const onPrem = { ...strict, allowPrivateCidrs: ['10.20.0.0/16'] };
    expect(isAddressAllowed('10.20.3.4', onPrem)).toBe(true);
    expect(isAddressAllowed('::ffff:10.20.3.4', onPrem)).toBe(true);
    expect(isAddressAllowed('10.21.0.1', onPrem)).toBe(false);
    expect(isAddressAllowed('127.0.0.1', onPrem)).toBe(false);
  });
});

describe('EgressGuard with a test resolver', () => {
  const resolverOf =
    (...addresses: string[]): Resolver =>
    async () =>
      addresses.map((address) => ({ address, family: net.isIP(address) === 6 ? 6 : 4 }));

  it.each([
    ['private', ['10.0.0.1']],
    ['metadata', ['169.254.169.254']],
    ['one bad among good', ['93.184.216.34', '192.168.0.10']],
    ['mapped loopback', ['::ffff:127.0.0.1']],
  ])('refuses a host resolving to %s addresses, naming only the host', async (_name, addrs) => {
    const guard = new EgressGuard(strict, resolverOf(...addrs));
    await expect(guard.resolve('files.example.com')).rejects.toThrow(
      /^object URL host is not allowed: files\.example\.com$/,
    );
  });

  it.each(['169.254.170.23', '169.254.42.1', 'fd00:ec2::23', 'fd00:ec2::254', 'fd20:ce::254', '::ffff:169.254.170.2'])(
    'refuses a host resolving to the metadata address %s even with private networks allowed',
    async (address) => {
      const guard = new EgressGuard({ ...strict, allowPrivateAll: true }, resolverOf(address));
      await expect(guard.resolve('objects.example.com')).rejects.toThrow(
        /^object URL host is not allowed: objects\.example\.com$/,
      );
      // The connect-time lookup is called directly (no socket), so even a regression cannot dial it.
      const err = await new Promise<Error | null>((resolve) =>
        guard.lookup('objects.example.com', {}, (e) => resolve(e)),
      );
      expect(err?.message).toBe('object URL host is not allowed: objects.example.com');
    },
  );

  it('refuses literal metadata addresses in URLs before any lookup', async () => {
    const resolver = vi.fn(resolverOf('93.184.216.34'));
    const guard = new EgressGuard({ ...strict, allowPrivateAll: true }, resolver);
    for (const h of ['169.254.170.23', '[fd00:ec2::23]', '[fd20:ce::254]']) {
      await expect(guard.resolve(h)).rejects.toThrow('object URL host is not allowed');
    }
    expect(resolver).not.toHaveBeenCalled();
  });

  it('returns the checked addresses for a public host', async () => {
    const guard = new EgressGuard(strict, resolverOf('93.184.216.34'));
    await expect(guard.resolve('files.example.com')).resolves.toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it('refuses internal names before any lookup', async () => {
    const resolver = vi.fn(resolverOf('93.184.216.34'));
    const guard = new EgressGuard(strict, resolver);
    for (const h of ['localhost', 'metadata', 'metadata.google.internal', 'instance-data', 'x.localhost']) {
      await expect(guard.resolve(h)).rejects.toThrow(`object URL host is not allowed: ${h}`);
    }
    expect(resolver).not.toHaveBeenCalled();
  });

  it('matches *.wildcards in allow and deny lists, deny first', async () => {
    const guard = new EgressGuard(
      { ...strict, allowedHosts: ['*.example.com'], deniedHosts: ['bad.example.com'] },
      resolverOf('93.184.216.34'),
    );
    await expect(guard.resolve('a.b.example.com')).resolves.toHaveLength(1);
    await expect(guard.resolve('bad.example.com')).rejects.toThrow('not allowed');
    await expect(guard.resolve('example.org')).rejects.toThrow('not allowed');
    await expect(guard.resolve('example.com')).rejects.toThrow('not allowed');
  });

  it('its connect-time lookup refuses a private answer and no socket connects', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const guard = new EgressGuard(strict, resolverOf('10.0.0.1'));
    const socket = net.connect({ host: 'rebind.example.com', port: 443, lookup: guard.lookup });
    const err = await new Promise<Error>((resolve) => socket.on('error', resolve));
    expect(err.message).toBe('object URL host is not allowed: rebind.example.com');
    // net.connect calls Socket#connect once to start the lookup; no address was ever dialled.
    expect(connect.mock.calls.length).toBeLessThanOrEqual(1);
    expect(socket.remoteAddress).toBeUndefined();
    socket.destroy();
  });

  it('its connect-time lookup lets loopback through when configured (tests) and connects to the checked address', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const guard = new EgressGuard({ ...strict, allowPrivateAll: true }, resolverOf('127.0.0.1'));
    const socket = net.connect({ host: 'objects.test', port, lookup: guard.lookup });
    await new Promise<void>((resolve, reject) => {
      socket.on('connect', resolve);
      socket.on('error', reject);
    });
    expect(socket.remoteAddress).toBe('127.0.0.1');
    socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses a redirect from https to http unless http is allowed', () => {
    const from = new URL('https://files.example.com/a');
    const to = new URL('http://files.example.com/a');
    expect(() => new EgressGuard(strict).checkScheme(to, from)).toThrow(
      'object URL host is not allowed: files.example.com',
    );
    expect(() => new EgressGuard({ ...strict, allowHttp: true }).checkScheme(to, from)).not.toThrow();
    expect(() => new EgressGuard(strict).checkScheme(new URL('file:///etc/passwd'), from)).toThrow(
      /unsupported object URL/,
    );
  });
});
