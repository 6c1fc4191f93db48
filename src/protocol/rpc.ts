/**
 * One small JSON-RPC-like helper shared by every message channel of the extension: webview ↔ host and
 * host ↔ analysis worker. Modelled on hexeditor `shared/protocol.ts` (`MessageHandler`: request ids, a pending
 * map, a reply per request) with error replies as vscode-messenger `createResponseError` sends them.
 *
 * Guarantees:
 * - Every pending request promise settles: on its reply, on an error reply, on timeout (optional) or when the
 *   endpoint is disposed (rejects with code 'disposed').
 * - Inbound envelopes are shape-checked; inbound params go through the handler's `parse` function before the
 *   handler sees them. An endpoint created with `requireParsers: true` (the host side: the webview is
 *   untrusted) refuses to register a handler without one.
 * - A handler that throws becomes an error reply `{ code, message }` (never a stack, never a class instance).
 *
 * Pure TypeScript: no DOM, no `node:*`, no `vscode`. The transport is a function that posts one message.
 */

//#region Descriptors

/** A request with params `P` answered by a result `R`. Create with `{ method: 'area/name' }`. */
export interface RequestType<P, R> {
  readonly method: string;
  /** Phantom fields carrying the types; never set. */
  readonly __params?: P;
  readonly __result?: R;
}

/** A one-way notification with params `P`. */
export interface NotificationType<P> {
  readonly method: string;
  readonly __params?: P;
}

/** Params type of a descriptor. */
export type ParamsOf<T> = T extends RequestType<infer P, unknown> ? P : T extends NotificationType<infer P> ? P : never;
/** Result type of a request descriptor. */
export type ResultOf<T> = T extends RequestType<unknown, infer R> ? R : never;

//#endregion

//#region Wire format

/** Error payload of an error reply: plain data, code is machine-readable, message is one sentence. */
export interface ResponseErrorData {
  readonly code: string;
  readonly message: string;
}

/** Every message on the wire. Discriminated by `kind`; `rpc` tags our messages among foreign ones. */
export type WireMessage =
  | { readonly rpc: 1; readonly kind: 'request'; readonly id: number; readonly method: string; readonly params: unknown }
  | { readonly rpc: 1; readonly kind: 'response'; readonly id: number; readonly result: unknown }
  | { readonly rpc: 1; readonly kind: 'error'; readonly id: number; readonly error: ResponseErrorData }
  | { readonly rpc: 1; readonly kind: 'notification'; readonly method: string; readonly params: unknown };

/** Longest method name accepted (a hostile peer could send megabytes of method name). */
export const MAX_METHOD_LENGTH = 128;
/** Longest error message forwarded or accepted. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000;

const METHOD_RE = /^[a-zA-Z][a-zA-Z0-9]*(\/[a-zA-Z][a-zA-Z0-9]*)*$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isMethod(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_METHOD_LENGTH && METHOD_RE.test(v);
}

/**
 * Checks the envelope of an inbound message. Returns undefined for anything that is not one of our wire
 * messages (foreign messages are ignored, malformed ones reported through `onInvalid`).
 */
export function parseWireMessage(raw: unknown): WireMessage | undefined {
  if (!isRecord(raw) || raw.rpc !== 1) return undefined;
  switch (raw.kind) {
    case 'request':
      return isId(raw.id) && isMethod(raw.method) ? { rpc: 1, kind: 'request', id: raw.id, method: raw.method, params: raw.params } : undefined;
    case 'notification':
      return isMethod(raw.method) ? { rpc: 1, kind: 'notification', method: raw.method, params: raw.params } : undefined;
    case 'response':
      return isId(raw.id) ? { rpc: 1, kind: 'response', id: raw.id, result: raw.result } : undefined;
    case 'error': {
      if (!isId(raw.id) || !isRecord(raw.error)) return undefined;
      const { code, message } = raw.error;
      if (typeof code !== 'string' || typeof message !== 'string') return undefined;
      return { rpc: 1, kind: 'error', id: raw.id, error: { code: code.slice(0, MAX_METHOD_LENGTH), message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) } };
    }
    default:
      return undefined;
  }
}

//#endregion

/** A rejected request. `code` is 'disposed', 'timeout', 'method-not-found', 'invalid-params', 'cancelled' or the handler's code. */
export class RpcError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'RpcError';
  }
}

/** Posts one message to the peer. `transfer` lists ArrayBuffers to move rather than copy (worker channel). */
export type RpcPost = (message: WireMessage, transfer?: readonly ArrayBuffer[]) => void;

/** Disposable handle returned by handler registrations. */
export interface RpcDisposable {
  dispose(): void;
}

/** Validates and converts untrusted params; throws (any error) when they are invalid. */
export type ParamsParser<P> = (params: unknown) => P;

/** Options for {@link RpcEndpoint}. */
export interface RpcEndpointOptions {
  /** Refuse handlers registered without a parser (use on the side that receives from an untrusted peer). */
  readonly requireParsers?: boolean;
  /** Default timeout for outgoing requests in ms; 0 or undefined = none. */
  readonly requestTimeoutMs?: number;
  /** Called with a short reason when an inbound message is malformed or fails validation. */
  readonly onInvalid?: (reason: string) => void;
  /** Most outgoing requests awaiting replies at once (a runaway loop fails fast instead of leaking). */
  readonly maxPending?: number;
}

interface Pending {
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: RpcError) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

type RequestHandler = (params: unknown) => unknown;
type NotificationHandler = (params: unknown) => void;

/** Turns anything thrown by a handler into plain error data. */
export function toResponseError(e: unknown): ResponseErrorData {
  if (e instanceof RpcError) return { code: e.code, message: e.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) };
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code.slice(0, MAX_METHOD_LENGTH) : 'internal', message: e.message.slice(0, MAX_ERROR_MESSAGE_LENGTH) };
  }
  return { code: 'internal', message: String(e).slice(0, MAX_ERROR_MESSAGE_LENGTH) };
}

/** One side of a channel: sends requests/notifications, dispatches inbound ones to registered handlers. */
export class RpcEndpoint {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly notificationHandlers = new Map<string, NotificationHandler[]>();
  private disposed = false;

  constructor(private readonly post: RpcPost, private readonly options: RpcEndpointOptions = {}) {}

  /** Number of requests awaiting a reply (tests check it drops to zero). */
  get pendingCount(): number {
    return this.pending.size;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Sends a request; the promise settles on reply, error reply, timeout or dispose. */
  sendRequest<P, R>(type: RequestType<P, R>, params: P, timeoutMs = this.options.requestTimeoutMs ?? 0): Promise<R> {
    if (this.disposed) return Promise.reject(new RpcError('disposed', `Cannot send '${type.method}': the channel is closed.`));
    if (this.pending.size >= (this.options.maxPending ?? 10_000)) {
      return Promise.reject(new RpcError('too-many-pending', `Cannot send '${type.method}': too many requests are waiting for replies.`));
    }
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (this.pending.delete(id)) reject(new RpcError('timeout', `Request '${type.method}' timed out after ${timeoutMs} ms.`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { method: type.method, resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.post({ rpc: 1, kind: 'request', id, method: type.method, params });
      } catch (e) {
        this.settle(id)?.reject(new RpcError('post-failed', `Cannot send '${type.method}': ${toResponseError(e).message}`));
      }
    });
  }

  /** Sends a notification (no reply). Silently dropped after dispose. */
  sendNotification<P>(type: NotificationType<P>, params: P, transfer?: readonly ArrayBuffer[]): void {
    if (this.disposed) return;
    this.post({ rpc: 1, kind: 'notification', method: type.method, params }, transfer);
  }

  /** Registers the handler for a request method (one per method). `parse` validates untrusted params. */
  onRequest<P, R>(type: RequestType<P, R>, handler: (params: P) => R | Promise<R>, parse?: ParamsParser<P>): RpcDisposable {
    this.checkParser(type.method, parse);
    if (this.requestHandlers.has(type.method)) throw new Error(`A handler for '${type.method}' is already registered.`);
    const wrapped: RequestHandler = (raw) => handler(parse ? parse(raw) : (raw as P));
    this.requestHandlers.set(type.method, wrapped);
    return { dispose: () => void (this.requestHandlers.get(type.method) === wrapped && this.requestHandlers.delete(type.method)) };
  }

  /** Registers a handler for a notification method (several allowed). */
  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void, parse?: ParamsParser<P>): RpcDisposable {
    this.checkParser(type.method, parse);
    const wrapped: NotificationHandler = (raw) => handler(parse ? parse(raw) : (raw as P));
    const list = this.notificationHandlers.get(type.method) ?? [];
    list.push(wrapped);
    this.notificationHandlers.set(type.method, list);
    return {
      dispose: () => {
        const l = this.notificationHandlers.get(type.method);
        const i = l?.indexOf(wrapped) ?? -1;
        if (l && i >= 0) l.splice(i, 1);
      },
    };
  }

  /** Feeds one inbound message (from `onDidReceiveMessage`, `window.onmessage` or a worker port). */
  handleMessage(raw: unknown): void {
    if (this.disposed) return;
    const msg = parseWireMessage(raw);
    if (!msg) {
      if (typeof raw === 'object' && raw !== null && (raw as { rpc?: unknown }).rpc === 1) this.invalid('malformed envelope');
      return;
    }
    switch (msg.kind) {
      case 'response':
        this.settle(msg.id)?.resolve(msg.result);
        return;
      case 'error':
        this.settle(msg.id)?.reject(new RpcError(msg.error.code, msg.error.message));
        return;
      case 'notification': {
        const handlers = this.notificationHandlers.get(msg.method);
        if (!handlers || handlers.length === 0) return this.invalid(`no handler for notification '${msg.method}'`);
        for (const h of [...handlers]) {
          try {
            h(msg.params);
          } catch (e) {
            this.invalid(`notification '${msg.method}' rejected: ${toResponseError(e).message}`);
          }
        }
        return;
      }
      case 'request':
        void this.dispatchRequest(msg.id, msg.method, msg.params);
        return;
    }
  }

  /** Rejects every pending request with 'disposed' and stops handling messages. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const pending = [...this.pending.keys()];
    for (const id of pending) {
      const p = this.settle(id);
      p?.reject(new RpcError('disposed', `Request '${p.method}' was abandoned: the channel closed.`));
    }
    this.requestHandlers.clear();
    this.notificationHandlers.clear();
  }

  private async dispatchRequest(id: number, method: string, params: unknown): Promise<void> {
    const handler = this.requestHandlers.get(method);
    if (!handler) {
      this.invalid(`no handler for request '${method}'`);
      return this.reply({ rpc: 1, kind: 'error', id, error: { code: 'method-not-found', message: `Unknown method '${method}'.` } });
    }
    try {
      const result = await handler(params);
      this.reply({ rpc: 1, kind: 'response', id, result });
    } catch (e) {
      const error = toResponseError(e);
      if (error.code === 'invalid-params') this.invalid(`request '${method}': ${error.message}`);
      this.reply({ rpc: 1, kind: 'error', id, error });
    }
  }

  private reply(msg: WireMessage): void {
    if (this.disposed) return;
    try {
      this.post(msg);
    } catch (e) {
      this.invalid(`reply failed: ${toResponseError(e).message}`);
    }
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer !== undefined) clearTimeout(p.timer);
    return p;
  }

  private checkParser(method: string, parse: unknown): void {
    if (this.options.requireParsers && typeof parse !== 'function') {
      throw new Error(`Handler for '${method}' needs a params parser: this endpoint receives untrusted messages.`);
    }
  }

  private invalid(reason: string): void {
    this.options.onInvalid?.(reason);
  }
}

/** Builds the error parsers throw for bad params: becomes an `invalid-params` error reply. */
export function invalidParams(method: string, why: string): RpcError {
  return new RpcError('invalid-params', `Invalid params for '${method}': ${why}.`);
}
