// The page's GraphQL client: trusted documents only (each operation is sent
// as its SHA-256 document id, never as text), over POST for queries and
// mutations and over WebSocket (graphql-transport-ws) for subscriptions.
import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from './gql/graphql';

/** A GraphQL error as the server codes it (extensions.code), or the transport's. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** For RATE_LIMITED: seconds to wait (Retry-After). */
    readonly retryAfter = 0,
    /** The invalid input fields, by name, with the server's message. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

type GraphQLError = { message: string; extensions?: { code?: string; fields?: { field: string; message: string }[] } };

function documentId<R, V>(doc: TypedDocumentString<R, V>): string {
  const hash = (doc as unknown as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('operation without a document id');
  return hash;
}

function toError(errors: GraphQLError[], retryAfter = 0): ApiError {
  const e = errors[0];
  const fields: Record<string, string> = {};
  for (const f of e.extensions?.fields ?? []) fields[f.field] = f.message;
  return new ApiError(e.message, e.extensions?.code ?? 'INTERNAL', retryAfter, fields);
}

const endpoint = '/graphql';

/** Runs a query or mutation; rejects with ApiError. */
export async function run<R, V>(doc: TypedDocumentString<R, V>, variables: V, token?: string): Promise<R> {
  let resp: Response;
  try {
    resp = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: token } : {}) },
      body: JSON.stringify({ documentId: documentId(doc), variables }),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError('The server cannot be reached.', 'UNAVAILABLE');
  }
  const retryAfter = Number(resp.headers.get('Retry-After') ?? 0) || 0;
  let body: { data?: R; errors?: GraphQLError[] };
  try {
    body = await resp.json();
  } catch {
    throw new ApiError(`The server answered ${resp.status}.`, resp.status === 429 ? 'RATE_LIMITED' : 'UNAVAILABLE', retryAfter);
  }
  if (body.errors?.length) throw toError(body.errors, retryAfter);
  if (!body.data) throw new ApiError(`The server answered ${resp.status}.`, 'UNAVAILABLE', retryAfter);
  return body.data;
}

/** What a live connection reports to the page. */
export interface LiveEvents {
  /** The connection is up (again: the page refetches what it may have missed). */
  connected(again: boolean): void;
  /** It is down and being retried. */
  lost(): void;
  /** The server offers no live updates here: the page refreshes politely. */
  unavailable(): void;
  /** The credential was revoked (close 4403). */
  revoked(): void;
}

/** Opens the page's WebSocket, authenticated with token. */
export function live(token: string, events: LiveEvents): Client {
  const url = new URL(endpoint, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  let connections = 0;
  let failures = 0;
  return createClient({
    url: url.href,
    connectionParams: { Authorization: token },
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: (e) => {
      const code = (e as CloseEvent | undefined)?.code;
      if (code === 4403) {
        events.revoked();
        return false;
      }
      if (++failures === 5 && connections === 0) events.unavailable();
      return true;
    },
    on: {
      connected: () => {
        failures = 0;
        events.connected(connections++ > 0);
      },
      closed: (e) => {
        if ((e as CloseEvent | undefined)?.code !== 4403) events.lost();
      },
    },
  });
}

/**
 * Subscribes to a trusted subscription and calls next with each event. A
 * subscription the server refuses (RATE_LIMITED, UNAVAILABLE) is tried
 * again after a pause; refused reports it. Returns the unsubscribe.
 */
export function subscribe<R, V>(
  client: Client,
  doc: TypedDocumentString<R, V>,
  variables: V,
  next: (data: R) => void,
  refused: (e: ApiError) => void,
): () => void {
  let stop: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  const start = () => {
    stop = client.subscribe<R>(
      {
        query: '',
        variables: variables as Record<string, unknown>,
        extensions: { persistedQuery: { version: 1, sha256Hash: documentId(doc).replace(/^sha256:/, '') } },
      },
      {
        next: (msg) => {
          attempt = 0;
          if (msg.data) next(msg.data as R);
        },
        error: (e) => {
          // GraphQL errors come as an array; a closed socket is retried by the client itself.
          if (!Array.isArray(e)) return;
          const err = toError(e as GraphQLError[]);
          refused(err);
          if (err.code === 'UNAUTHENTICATED') return;
          timer = setTimeout(start, Math.min(30, 2 ** attempt++) * 1000);
        },
        complete: () => {},
      },
    );
  };
  start();
  return () => {
    clearTimeout(timer);
    stop?.();
  };
}
