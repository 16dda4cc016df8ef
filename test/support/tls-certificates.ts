import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private test CA and one server certificate it signed, as files and as PEM text. */
export interface TestCertificates {
  dir: string;
  /** The CA certificate (what STORAGE_CA_FILE or NODE_EXTRA_CA_CERTS points at). */
  caFile: string;
  caPem: string;
  /** Server key and certificate, ready for `https.createServer({ key, cert })`. */
  keyFile: string;
  certFile: string;
  key: Buffer;
  cert: Buffer;
}

/**
 * Writes a private CA and a server certificate signed by it with openssl, valid for two days.
 * `altNames` are subjectAltName entries (`IP:…`, `DNS:…`); the default covers a loopback server.
 * TLS tests trust the CA explicitly, so a certificate that does not chain to it fails as it would
 * for an on-premises store behind a private CA.
 */
export function makeTestCertificates(
  altNames: readonly string[] = ['IP:127.0.0.1', 'DNS:localhost'],
): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'igw-tls-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=igw test CA',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=igw test server',
  );
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${altNames.join(',')}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  const caFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'server.key');
  const certFile = join(dir, 'server.pem');
  return {
    dir,
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    keyFile,
    certFile,
    key: readFileSync(keyFile),
    cert: readFileSync(certFile),
  };
}

/** A fresh RSA key pair in PEM (PKCS#8 private, SPKI public), e.g. for a test service account. */
export function makeRsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'igw-rsa-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'key.pem');
  openssl('pkey', '-in', 'key.pem', '-pubout', '-out', 'pub.pem');
  return {
    privateKeyPem: readFileSync(join(dir, 'key.pem'), 'utf8'),
    publicKeyPem: readFileSync(join(dir, 'pub.pem'), 'utf8'),
  };
}
