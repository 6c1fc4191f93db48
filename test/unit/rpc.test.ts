import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RpcEndpoint, RpcError, invalidParams, parseWireMessage, type NotificationType, type RequestType, type WireMessage } from '../../src/protocol/rpc';

const Add: RequestType<{ a: number; b: number }, number> = { method: 'math/add' };
const Fail: RequestType<Record<string, never>, void> = { method: 'math/fail' };
const Never: RequestType<Record<string, never>, void> = { method: 'math/never' };
const Ping: NotificationType<{ n: number }> = { method: 'ping' };

/** Two endpoints wired like postMessage: asynchronous delivery of a structured clone. */
function pair(opts: { hostInvalid?: string[] } = {}) {
  const log: WireMessage[] = [];
  const peers: { host?: RpcEndpoint } = {};
  const view = new RpcEndpoint((m) => {
    log.push(m);
    const c = structuredClone(m);
    queueMicrotask(() => peers.host!.handleMessage(c));
  });
  const host = new RpcEndpoint(
    (m) => {
      log.push(m);
      const c = structuredClone(m);
      queueMicrotask(() => view.handleMessage(c));
    },
    { requireParsers: true, onInvalid: (r) => opts.hostInvalid?.push(r) },
  );
  peers.host = host;
  return { host, view, log };
}

const parseAdd = (raw: unknown) => {
  const r = raw as { a?: unknown; b?: unknown };
  if (typeof r !== 'object' || r === null || typeof r.a !== 'number' || typeof r.b !== 'number') throw invalidParams(Add.method, 'a and b must be numbers');
  return { a: r.a, b: r.b };
};

test('request gets the handler result and the pending map empties', async () => {
  const { host, view } = pair();
  host.onRequest(Add, ({ a, b }) => a + b, parseAdd);
  assert.equal(await view.sendRequest(Add, { a: 2, b: 3 }), 5);
  assert.equal(view.pendingCount, 0);
});

test('async handler errors become error replies with code and message, not stacks', async () => {
  const { host, view, log } = pair();
  host.onRequest(
    Fail,
    async () => {
      const e = new Error('model.onnx: bad header.') as Error & { code: string };
      e.code = 'bad-magic';
      throw e;
    },
    () => ({}),
  );
  await assert.rejects(view.sendRequest(Fail, {}), (e: unknown) => e instanceof RpcError && e.code === 'bad-magic' && e.message === 'model.onnx: bad header.');
  const reply = log.find((m) => m.kind === 'error');
  assert.deepEqual(reply && 'error' in reply ? Object.keys(reply.error).sort() : [], ['code', 'message']);
  assert.equal(view.pendingCount, 0);
});

test('invalid params are refused before the handler runs and reported', async () => {
  const invalid: string[] = [];
  const { host, view } = pair({ hostInvalid: invalid });
  let calls = 0;
  host.onRequest(Add, ({ a, b }) => (calls++, a + b), parseAdd);
  await assert.rejects(view.sendRequest(Add, { a: 'x' } as never), (e: unknown) => e instanceof RpcError && e.code === 'invalid-params');
  assert.equal(calls, 0);
  assert.equal(invalid.length, 1);
  assert.match(invalid[0]!, /math\/add/);
});

test('unknown method gets a method-not-found error reply', async () => {
  const { view } = pair();
  await assert.rejects(view.sendRequest(Never, {}), (e: unknown) => e instanceof RpcError && e.code === 'method-not-found');
});

test('an endpoint for untrusted input refuses handlers without a parser', () => {
  const { host } = pair();
  assert.throws(() => host.onRequest(Add, ({ a, b }) => a + b), /needs a params parser/);
  assert.throws(() => host.onNotification(Ping, () => undefined), /needs a params parser/);
});

test('dispose settles every pending request with code disposed', async () => {
  const view = new RpcEndpoint(() => undefined); // the peer never answers
  const p1 = view.sendRequest(Add, { a: 1, b: 1 });
  const p2 = view.sendRequest(Never, {});
  assert.equal(view.pendingCount, 2);
  view.dispose();
  const results = await Promise.allSettled([p1, p2]);
  assert.deepEqual(
    results.map((r) => r.status === 'rejected' && r.reason instanceof RpcError && r.reason.code),
    ['disposed', 'disposed'],
  );
  assert.equal(view.pendingCount, 0);
  await assert.rejects(view.sendRequest(Add, { a: 1, b: 1 }), (e: unknown) => e instanceof RpcError && e.code === 'disposed');
});

test('timeouts reject and a late reply is ignored', async () => {
  const sent: WireMessage[] = [];
  const view = new RpcEndpoint((m) => sent.push(m));
  const p = view.sendRequest(Add, { a: 1, b: 2 }, 20);
  await assert.rejects(p, (e: unknown) => e instanceof RpcError && e.code === 'timeout');
  const req = sent[0]!;
  assert.equal(req.kind, 'request');
  view.handleMessage({ rpc: 1, kind: 'response', id: (req as { id: number }).id, result: 3 }); // no throw, no effect
  assert.equal(view.pendingCount, 0);
});

test('a transport that throws rejects the request instead of leaving it pending', async () => {
  const view = new RpcEndpoint(() => {
    throw new Error('DataCloneError: could not be cloned');
  });
  await assert.rejects(view.sendRequest(Add, { a: 1, b: 1 }), (e: unknown) => e instanceof RpcError && e.code === 'post-failed');
  assert.equal(view.pendingCount, 0);
});

test('notifications reach every handler; a throwing handler is reported, not fatal', async () => {
  const invalid: string[] = [];
  const { host, view } = pair({ hostInvalid: invalid });
  const got: number[] = [];
  host.onNotification(Ping, (p) => got.push(p.n), (raw) => {
    const n = (raw as { n?: unknown })?.n;
    if (typeof n !== 'number') throw invalidParams(Ping.method, 'n must be a number');
    return { n };
  });
  view.sendNotification(Ping, { n: 1 });
  view.sendNotification(Ping, { n: 'evil' } as never);
  view.sendNotification(Ping, { n: 2 });
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, [1, 2]);
  assert.equal(invalid.length, 1);
});

test('foreign and malformed messages are ignored; malformed ones of ours are reported', () => {
  const invalid: string[] = [];
  const ep = new RpcEndpoint(() => undefined, { onInvalid: (r) => invalid.push(r) });
  for (const raw of [null, 42, 'x', [], { type: 'vscode-internal' }]) ep.handleMessage(raw);
  assert.equal(invalid.length, 0);
  for (const raw of [
    { rpc: 1, kind: 'request', id: -1, method: 'a/b', params: {} },
    { rpc: 1, kind: 'request', id: 1, method: '../../etc', params: {} },
    { rpc: 1, kind: 'request', id: 1, method: 'x'.repeat(1000), params: {} },
    { rpc: 1, kind: 'response', id: 1.5, result: 1 },
    { rpc: 1, kind: 'error', id: 1, error: 'boom' },
    { rpc: 1, kind: 'bogus' },
  ]) ep.handleMessage(raw);
  assert.equal(invalid.length, 6);
});

test('parseWireMessage truncates huge error messages and keeps only known fields', () => {
  const m = parseWireMessage({ rpc: 1, kind: 'error', id: 3, error: { code: 'x', message: 'm'.repeat(10_000), extra: 1 }, evil: true });
  assert.ok(m && m.kind === 'error');
  assert.equal(m.error.message.length, 2000);
  assert.deepEqual(Object.keys(m).sort(), ['error', 'id', 'kind', 'rpc']);
});

test('a second handler for the same request method is refused; dispose unregisters', async () => {
  const { host, view } = pair();
  const d = host.onRequest(Add, ({ a, b }) => a + b, parseAdd);
  assert.throws(() => host.onRequest(Add, ({ a }) => a, parseAdd), /already registered/);
  d.dispose();
  await assert.rejects(view.sendRequest(Add, { a: 1, b: 1 }), (e: unknown) => e instanceof RpcError && e.code === 'method-not-found');
});

test('replies are not posted after the answering side is disposed', async () => {
  const posted: WireMessage[] = [];
  let release!: () => void;
  const host = new RpcEndpoint((m) => posted.push(m));
  host.onRequest(Add, async ({ a, b }) => {
    await new Promise<void>((r) => (release = r));
    return a + b;
  });
  host.handleMessage({ rpc: 1, kind: 'request', id: 7, method: 'math/add', params: { a: 1, b: 2 } });
  host.dispose();
  release();
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(posted.length, 0);
});
