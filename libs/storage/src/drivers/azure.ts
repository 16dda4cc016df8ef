import * as http from 'node:http';
import * as https from 'node:https';
import {
  AnonymousCredential,
  BlobServiceClient,
  type ContainerClient,
  newPipeline,
  type RequestPolicy,
  type RequestPolicyFactory,
  RestError,
  StorageSharedKeyCredential,
  type WebResource,
} from '@azure/storage-blob';
import type { EgressGuard } from '../egress';
import type { ObjectStat, ReadPin } from '../object-source';
import type { RawDriver, RawPage, RawRead } from '../resilient';
import { statusError } from '../resilient';

export interface AzureDriverOptions {
  /** `https://<account>.blob.core.windows.net` or an azurite-style `http://host:port/<account>`. */
  serviceUrl: string;
  container: string;
  credential: { account: string; key: string } | { sas: string } | 'anonymous';
  guard: EgressGuard;
  display: (key: string) => string;
}

/**
 * Azure Blob through `@azure/storage-blob`. SDK retries are off (maxTries 1, no download
 * re-requests): ResilientSource owns retries and resume. A request-policy factory puts the
 * guard's agents on every request, so sockets connect only to checked addresses.
 */
export class AzureDriver implements RawDriver {
  private readonly container: ContainerClient;
  private readonly agents: http.Agent[];

  constructor(private readonly o: AzureDriverOptions) {
    const agentOpts = { keepAlive: true, maxSockets: 16, lookup: o.guard.lookup };
    const httpAgent = new http.Agent(agentOpts);
    const httpsAgent = new https.Agent({ ...agentOpts, ...o.guard.tls });
    this.agents = [httpAgent, httpsAgent];
    const useGuardedAgent: RequestPolicyFactory = {
      create: (next: RequestPolicy): RequestPolicy => ({
        sendRequest: (req: WebResource) => {
          req.agent = req.url.startsWith('https:') ? httpsAgent : httpAgent;
          return next.sendRequest(req);
        },
      }),
    };
    let url = o.serviceUrl;
    let credential: StorageSharedKeyCredential | AnonymousCredential = new AnonymousCredential();
    if (o.credential !== 'anonymous' && 'key' in o.credential) {
      credential = new StorageSharedKeyCredential(o.credential.account, o.credential.key);
    } else if (o.credential !== 'anonymous') {
      url = `${url}?${o.credential.sas.replace(/^\?/, '')}`;
    }
    // newPipeline() starts with no factories of its own; ours is added as a "downlevel" policy that
    // the SDK runs on every request, next to its credential and (disabled) retry policy.
    const pipeline = newPipeline(credential, { retryOptions: { maxTries: 1 } });
    pipeline.factories.push(useGuardedAgent);
    this.container = new BlobServiceClient(url, pipeline).getContainerClient(o.container);
  }

  close(): void {
    for (const a of this.agents) a.destroy();
  }

  /** The container client (the volume writer's uploads and deletes). */
  get client(): ContainerClient {
    return this.container;
  }

  /** A StorageError for an SDK failure about `key`, when the status says what it is. */
  storageError(e: unknown, key: string): unknown {
    return this.mapError(e, key);
  }

  display(key: string): string {
    return this.o.display(key);
  }

  private mapError(e: unknown, key: string): unknown {
    if (e instanceof RestError) {
      if (e.code === 'ConditionNotMet') return statusError(412, this.display(key), e);
      if (e.statusCode !== undefined && e.statusCode !== 0) return statusError(e.statusCode, this.display(key), e);
    }
    return e;
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectStat> {
    try {
      const p = await this.container.getBlobClient(key).getProperties({ abortSignal: signal });
      return {
        key,
        size: p.contentLength ?? 0,
        version: p.etag ?? '',
        ...(p.lastModified === undefined ? {} : { lastModified: p.lastModified }),
      };
    } catch (e) {
      throw this.mapError(e, key);
    }
  }

  async listPage(prefix: string, token: string | undefined, signal: AbortSignal): Promise<RawPage> {
    try {
      const pages = this.container
        .listBlobsFlat({ prefix, abortSignal: signal })
        .byPage({ maxPageSize: 1000, ...(token === undefined ? {} : { continuationToken: token }) });
      const r = await pages.next();
      if (r.done === true) return { items: [] };
      const items: ObjectStat[] = r.value.segment.blobItems.map((b) => ({
        key: b.name,
        size: b.properties.contentLength ?? 0,
        version: b.properties.etag,
        lastModified: b.properties.lastModified,
      }));
      const next = r.value.continuationToken;
      return next === undefined || next === '' ? { items } : { items, next };
    } catch (e) {
      throw this.mapError(e, prefix);
    }
  }

  async get(key: string, start: number, end: number, pin: ReadPin | undefined, signal: AbortSignal): Promise<RawRead> {
    try {
      const r = await this.container.getBlobClient(key).download(start, end - start, {
        abortSignal: signal,
        maxRetryRequests: 0,
        ...(pin !== undefined && pin.version !== '' ? { conditions: { ifMatch: pin.version } } : {}),
      });
      const body = r.readableStreamBody as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
      if (body === undefined) throw statusError(502, this.display(key));
      const total = /\/(\d+)$/.exec(r.contentRange ?? '')?.[1];
      return {
        body: body as AsyncIterable<Uint8Array>,
        ...(r.etag === undefined ? {} : { version: r.etag }),
        ...(total === undefined ? {} : { total: Number(total) }),
        cancel: () => body.destroy?.(),
      };
    } catch (e) {
      throw this.mapError(e, key);
    }
  }
}
