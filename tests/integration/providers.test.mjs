// Integration test of providers/ (bin/mock-providers) as a process.
//
// Starts its OWN mock-providers on free loopback ports (binary
// $BIN_DIR/mock-providers, default bin/mock-providers) with chosen knobs and
// checks the contract of providers/README.md: the asynchronous job protocol,
// deterministic data per tax ID (across jobs and restarts), each provider's
// data shape, 404 for unknown jobs, the per-request X-Mock-* knobs and the
// PROVIDER_* settings, a hanging request not blocking another, the job table
// bounds, hostile input answered with 4xx JSON errors, bad configuration,
// and SIGTERM → exit 0.  Every child's stderr is checked for sanitizer
// reports and for the tax IDs (which must never be logged).
//
// Run: BIN_DIR=build/prov-asan/bin node --test tests/integration/providers.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { resolve } from 'node:path';
import { freePort, sleep, waitFor as waitUntil } from './lib.mjs';

const BIN = resolve(process.env.BIN_DIR ?? 'bin', 'mock-providers');
const WAIT_MS = 15000;
const waitFor = (what, fn, ms = WAIT_MS) => waitUntil(what, fn, ms, POLL_MS);
const POLL_MS = 50;
const PROVIDERS = ['credit-bureau', 'tax-authority', 'property-registry'];
// Tax IDs used below; none may ever appear in a log line.
const TAX = ['123.456.789-00', 'AB-998877', '00000000191', 'X/42.7', 'tax-id-5', 'Q1'];

const children = new Set();

after(async () => {
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  }
});




// Resolves once the process exited and its output is all read ('close').
function exited(proc) {
  if (proc.closed)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((res) => proc.once('close', (code, signal) => res({ code, signal })));
}

// Spawns mock-providers with env (on top of a quiet, fast default) and
// returns once /healthz answers, or once it exits if wantExit.
async function start(env = {}, { port, wantExit = false } = {}) {
  port ??= await freePort();
  const proc = spawn(BIN, [], {
    env: {
      PATH: process.env.PATH,
      ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? 'detect_leaks=1:abort_on_error=0',
      UBSAN_OPTIONS: process.env.UBSAN_OPTIONS ?? 'print_stacktrace=1:halt_on_error=1',
      PROVIDERS_PORT: String(port),
      LOG_LEVEL: 'debug',
      PROVIDER_LATENCY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.once('close', () => { proc.closed = true; });
  const child = { proc, port, base: `http://127.0.0.1:${port}`, out: '' };
  proc.stdout.on('data', (d) => { child.out += d; });
  proc.stderr.on('data', (d) => { child.out += d; });
  children.add(child);
  if (wantExit) {
    child.exit = await Promise.race([exited(proc),
      sleep(WAIT_MS).then(() => { throw new Error('did not exit'); })]);
    return child;
  }
  await waitFor('mock-providers /healthz', async () => {
    if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${child.out}`);
    const r = await call(child, 'GET', '/healthz');
    return r.status === 200 && r.json?.status === 'ok';
  });
  return child;
}

async function stop(child) {
  child.proc.kill('SIGTERM');
  const r = await Promise.race([exited(child.proc),
    sleep(WAIT_MS).then(() => ({ code: 'timeout' }))]);
  return r;
}

async function call(child, method, path, { body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, signal };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ||
      typeof body?.getReader === 'function' ? body : JSON.stringify(body);
    if (typeof body?.getReader === 'function') init.duplex = 'half';
    init.headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(child.base + path, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

async function startJob(child, provider, taxID, headers = {}) {
  const r = await call(child, 'POST', `/v1/${provider}/jobs`, { body: { taxID }, headers });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.status, 'processing');
  assert.match(r.json.jobID, /^[0-9a-f]{32}$/);
  return r.json.jobID;
}

const poll = (child, provider, id, headers = {}) =>
  call(child, 'GET', `/v1/${provider}/jobs/${id}`, { headers });

// Data of (provider, taxID) via a job that is ready at once.
async function dataOf(child, provider, taxID) {
  const id = await startJob(child, provider, taxID, { 'X-Mock-Polls': '0' });
  const r = await poll(child, provider, id);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'completed');
  assert.equal(r.json.jobID, id);
  return r.json.data;
}

function assertJsonError(r, status) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(typeof r.json?.error, 'string', r.text);
  assert.ok(r.json.error.length > 0);
}

const isAscii = (s) => /^[\x20-\x7e]*$/.test(s);

let main;	// the shared instance of most tests

test('starts and answers /healthz', async () => {
  main = await start({ PROVIDER_CREDIT_BUREAU: 'polls=3,retry_after=2' });
  const r = await call(main, 'GET', '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
});

test('async protocol: 202 + Retry-After, processing N times, then completed', async () => {
  const r = await call(main, 'POST', '/v1/credit-bureau/jobs', { body: { taxID: TAX[0] } });
  assert.equal(r.status, 202);
  assert.equal(r.headers.get('retry-after'), '2');
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const id = r.json.jobID;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.deepEqual(r.json, { jobID: id, status: 'processing' });
  for (let i = 0; i < 3; i++) {
    const p = await poll(main, 'credit-bureau', id);
    assert.equal(p.status, 200);
    assert.deepEqual(p.json, { jobID: id, status: 'processing' }, `poll ${i + 1}`);
    assert.equal(p.headers.get('retry-after'), '2');
  }
  const done = await poll(main, 'credit-bureau', id);
  assert.equal(done.status, 200);
  assert.equal(done.json.status, 'completed');
  assert.equal(done.json.jobID, id);
  assert.equal(typeof done.json.data, 'object');
  // Completed stays completed, with the same data.
  const again = await poll(main, 'credit-bureau', id);
  assert.deepEqual(again.json, done.json);
  // The default of the other providers is PROVIDER_POLLS (2).
  const t = await startJob(main, 'tax-authority', TAX[0]);
  assert.equal((await poll(main, 'tax-authority', t)).json.status, 'processing');
  assert.equal((await poll(main, 'tax-authority', t)).json.status, 'processing');
  assert.equal((await poll(main, 'tax-authority', t)).json.status, 'completed');
});

test('X-Mock-Polls: 0 answers completed on the first poll; N polls otherwise', async () => {
  for (const n of [0, 1, 5]) {
    const id = await startJob(main, 'property-registry', TAX[1], { 'X-Mock-Polls': String(n) });
    for (let i = 0; i < n; i++)
      assert.equal((await poll(main, 'property-registry', id)).json.status, 'processing');
    assert.equal((await poll(main, 'property-registry', id)).json.status, 'completed');
  }
});

test('credit-bureau data shape', async () => {
  for (const tax of TAX) {
    const d = await dataOf(main, 'credit-bureau', tax);
    assert.deepEqual(Object.keys(d).sort(),
      ['defaults', 'lastUpdated', 'openAccounts', 'rating', 'score']);
    assert.ok(Number.isInteger(d.score) && d.score >= 300 && d.score <= 850, `score ${d.score}`);
    assert.ok(['A', 'B', 'C', 'D', 'E'].includes(d.rating));
    assert.ok(Number.isInteger(d.openAccounts) && d.openAccounts >= 0);
    assert.ok(Number.isInteger(d.defaults) && d.defaults >= 0);
    assert.match(d.lastUpdated, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(new Date(d.lastUpdated + 'T00:00:00Z').toISOString().slice(0, 10), d.lastUpdated);
  }
});

test('tax-authority data shape', async () => {
  for (const tax of TAX) {
    const d = await dataOf(main, 'tax-authority', tax);
    assert.deepEqual(Object.keys(d).sort(), ['declaredIncome', 'status', 'taxPaid', 'year']);
    assert.ok(Number.isInteger(d.declaredIncome) && d.declaredIncome > 0);
    assert.ok(Number.isInteger(d.taxPaid) && d.taxPaid >= 0 && d.taxPaid <= d.declaredIncome);
    assert.ok(Number.isInteger(d.year) && d.year >= 2000 && d.year <= 2100);
    assert.ok(['COMPLIANT', 'PENDING_REVIEW', 'DELINQUENT'].includes(d.status));
  }
});

test('property-registry data shape', async () => {
  const counts = new Set();
  for (const tax of [...TAX, 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']) {
    const d = await dataOf(main, 'property-registry', tax);
    assert.deepEqual(Object.keys(d).sort(), ['properties', 'totalValue']);
    assert.ok(Array.isArray(d.properties));
    assert.ok(d.properties.length >= 0 && d.properties.length <= 4);
    counts.add(d.properties.length);
    let sum = 0;
    for (const p of d.properties) {
      assert.deepEqual(Object.keys(p).sort(), ['city', 'id', 'type', 'value']);
      assert.ok(typeof p.id === 'string' && p.id.length > 0 && isAscii(p.id));
      assert.ok(['apartment', 'house', 'land', 'commercial'].includes(p.type));
      assert.ok(typeof p.city === 'string' && p.city.length > 0 && isAscii(p.city));
      assert.ok(Number.isInteger(p.value) && p.value > 0);
      sum += p.value;
    }
    assert.equal(d.totalValue, sum);
  }
  assert.ok(counts.size > 1, 'property counts vary with the tax ID');
});

test('determinism: same tax ID, same data across jobs; different tax IDs differ', async () => {
  for (const p of PROVIDERS) {
    const seen = new Map();
    for (const tax of TAX) {
      const a = await dataOf(main, p, tax);
      const b = await dataOf(main, p, tax);
      assert.deepEqual(a, b, `${p} ${tax}`);
      seen.set(tax, JSON.stringify(a));
    }
    // Everybody without property has the same (empty) registry entry.
    const distinct = [...seen.values()].filter((v) => !v.startsWith('{"properties":[]'));
    assert.ok(distinct.length >= TAX.length - 2, `${p}: ${distinct.length} with data`);
    assert.equal(new Set(distinct).size, distinct.length, `${p}: every tax ID has its own data`);
  }
});

test('determinism across a restart of the process', async () => {
  const before = {};
  for (const p of PROVIDERS) before[p] = await dataOf(main, p, TAX[3]);
  const port = main.port;
  const r = await stop(main);
  assert.equal(r.code, 0);
  main = await start({ PROVIDER_CREDIT_BUREAU: 'polls=3,retry_after=2' }, { port });
  for (const p of PROVIDERS) assert.deepEqual(await dataOf(main, p, TAX[3]), before[p], p);
});

test('unknown job: 404 {"error"}; a job is bound to its provider', async () => {
  assertJsonError(await poll(main, 'credit-bureau', '0123456789abcdef0123456789abcdef'), 404);
  assert.equal((await poll(main, 'credit-bureau', 'nope')).json.error, 'unknown job');
  assertJsonError(await poll(main, 'credit-bureau', 'x'.repeat(5000)), 404);
  const id = await startJob(main, 'tax-authority', TAX[2]);
  assertJsonError(await poll(main, 'credit-bureau', id), 404);
  assertJsonError(await poll(main, 'property-registry', id), 404);
  assert.equal((await poll(main, 'tax-authority', id)).status, 200);
});

test('a job from before a restart is unknown afterwards (404)', async () => {
  const id = await startJob(main, 'credit-bureau', TAX[2]);
  const port = main.port;
  assert.equal((await stop(main)).code, 0);
  main = await start({ PROVIDER_CREDIT_BUREAU: 'polls=3,retry_after=2' }, { port });
  const r = await poll(main, 'credit-bureau', id);
  assertJsonError(r, 404);
  assert.equal(r.json.error, 'unknown job');
});

test('fail rate 1 → 5xx JSON error, on POST and on one poll', async () => {
  const r = await call(main, 'POST', '/v1/credit-bureau/jobs',
    { body: { taxID: TAX[0] }, headers: { 'X-Mock-Fail-Rate': '1' } });
  assert.ok(r.status >= 500 && r.status <= 599, r.text);
  assert.equal(typeof r.json.error, 'string');
  // On a GET the knob applies to that poll only and does not count as one.
  const id = await startJob(main, 'tax-authority', TAX[0], { 'X-Mock-Polls': '1' });
  for (let i = 0; i < 3; i++) {
    const f = await poll(main, 'tax-authority', id, { 'X-Mock-Fail-Rate': '1' });
    assert.ok(f.status >= 500 && f.status <= 599, f.text);
    assert.equal(typeof f.json.error, 'string');
  }
  assert.equal((await poll(main, 'tax-authority', id)).json.status, 'processing');
  assert.equal((await poll(main, 'tax-authority', id)).json.status, 'completed');
});

test('a POST retried under a fail rate below 1 eventually starts the job', async () => {
  const statuses = [];
  for (let i = 0; i < 100; i++) {
    const r = await call(main, 'POST', '/v1/credit-bureau/jobs', {
      body: { taxID: TAX[1] },
      headers: { 'X-Mock-Fail-Rate': '0.5', 'X-Mock-Rate-Limit-Rate': '0.3' },
    });
    statuses.push(r.status);
    if (r.status === 202) break;
    assert.ok([429, 500, 502, 503].includes(r.status), r.text);
  }
  assert.equal(statuses.at(-1), 202, statuses.join(' '));
});

test('rate limit 1 → 429 with Retry-After', async () => {
  const r = await call(main, 'POST', '/v1/property-registry/jobs', {
    body: { taxID: TAX[0] },
    headers: { 'X-Mock-Rate-Limit-Rate': '1', 'X-Mock-Retry-After': '7' },
  });
  assertJsonError(r, 429);
  assert.equal(r.headers.get('retry-after'), '7');
  const id = await startJob(main, 'property-registry', TAX[0]);
  const g = await poll(main, 'property-registry', id, { 'X-Mock-Rate-Limit-Rate': '1' });
  assertJsonError(g, 429);
  assert.match(g.headers.get('retry-after'), /^\d+$/);
});

test('malformed rate 1 → 200 with a body that is not JSON', async () => {
  const id = await startJob(main, 'credit-bureau', TAX[4],
    { 'X-Mock-Malformed-Rate': '1', 'X-Mock-Polls': '1' });
  for (let i = 0; i < 3; i++) {
    const r = await poll(main, 'credit-bureau', id);
    assert.equal(r.status, 200);
    assert.ok(r.text.length > 0);
    assert.equal(r.json, undefined, `not JSON: ${r.text}`);
    assert.throws(() => JSON.parse(r.text));
  }
  // The broken answers still advanced the job: a clean poll has the data.
  const ok = await poll(main, 'credit-bureau', id, { 'X-Mock-Malformed-Rate': '0' });
  assert.equal(ok.json.status, 'completed');
});

test('never-ready: polls answer processing forever', async () => {
  const id = await startJob(main, 'tax-authority', TAX[4],
    { 'X-Mock-Never-Ready': 'true', 'X-Mock-Polls': '0' });
  for (let i = 0; i < 20; i++)
    assert.equal((await poll(main, 'tax-authority', id)).json.status, 'processing');
  // Lifting it for one poll shows the job is otherwise ready.
  const r = await poll(main, 'tax-authority', id, { 'X-Mock-Never-Ready': 'false' });
  assert.equal(r.json.status, 'completed');
});

test('latency: an answer takes at least X-Mock-Latency-Ms', async () => {
  const t0 = Date.now();
  const id = await startJob(main, 'credit-bureau', TAX[0], { 'X-Mock-Latency-Ms': '300' });
  assert.ok(Date.now() - t0 >= 300, `POST took ${Date.now() - t0} ms`);
  // The job keeps its latency for its polls.
  const t1 = Date.now();
  await poll(main, 'credit-bureau', id);
  assert.ok(Date.now() - t1 >= 300, `GET took ${Date.now() - t1} ms`);
});

test('intermediate rates: reproducible per tax ID, and a job still completes', async () => {
  // The rates ride on every poll (a header on the POST would apply to the
  // POST too, and a POST's draws depend on the order of all POSTs).
  const knobs = { 'X-Mock-Fail-Rate': '0.4', 'X-Mock-Rate-Limit-Rate': '0.2',
    'X-Mock-Malformed-Rate': '0.2' };
  const run = async () => {
    const id = await startJob(main, 'property-registry', TAX[5], { 'X-Mock-Polls': '5' });
    const seq = [];
    for (let i = 0; i < 200; i++) {
      const r = await poll(main, 'property-registry', id, knobs);
      seq.push(r.json ? `${r.status}:${r.json.status ?? 'error'}` : `${r.status}:malformed`);
      if (r.json?.status === 'completed') return seq;
    }
    assert.fail(`never completed: ${seq.join(' ')}`);
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b, 'same tax ID and knobs give the same sequence');
  assert.ok(a.some((s) => !s.startsWith('200:')) || a.some((s) => s.endsWith('malformed')),
    `some failure injected: ${a.join(' ')}`);
  const st = await call(main, 'GET', '/v1/stats');
  assert.ok(st.json.providers['property-registry'].failuresInjected > 0);
});

test('a hanging request does not block a parallel normal one', async () => {
  const ac = new AbortController();
  let hungDone = false;
  const hung = call(main, 'POST', '/v1/credit-bureau/jobs', {
    body: { taxID: TAX[0] },
    headers: { 'X-Mock-Timeout-Rate': '1', 'X-Mock-Timeout-Ms': '120000' },
    signal: ac.signal,
  }).then(() => { hungDone = true; }, () => { hungDone = true; });
  // The hang has begun once the stats count it.
  await waitFor('the hang to start', async () =>
    (await call(main, 'GET', '/v1/stats')).json.providers['credit-bureau'].timeouts >= 1);
  const data = await dataOf(main, 'credit-bureau', TAX[1]);
  assert.equal(typeof data.score, 'number');
  assert.equal(hungDone, false, 'the hanging request is still hanging');
  ac.abort();
  await hung;
});

test('timeout knob: the request hangs timeout_ms, then 504', async () => {
  const t0 = Date.now();
  const r = await call(main, 'POST', '/v1/tax-authority/jobs', {
    body: { taxID: TAX[0] },
    headers: { 'X-Mock-Timeout-Rate': '1', 'X-Mock-Timeout-Ms': '200' },
  });
  assertJsonError(r, 504);
  assert.ok(Date.now() - t0 >= 200);
});

test('bad input → 4xx with a JSON error, never a crash', async () => {
  const P = '/v1/credit-bureau/jobs';
  const cases = [
    [{ body: '{bad' }, 400],
    [{ body: '' }, 400],
    [{ body: '[]' }, 400],
    [{ body: '"x"' }, 400],
    [{ body: '{"taxID":1}' }, 400],
    [{ body: '{}' }, 400],
    [{ body: '{"taxid":"abc"}' }, 400],
    [{ body: { taxID: '' } }, 400],
    [{ body: { taxID: 'a'.repeat(33) } }, 400],
    [{ body: { taxID: 'bad id' } }, 400],
    [{ body: { taxID: 'semi;colon' } }, 400],
    [{ body: { taxID: 'ünïcode' } }, 400],
    [{ body: '{"taxID":"a\\u0000b"}' }, 400],
    [{ body: '{"taxID":"ok"} trailing' }, 400],
    [{ body: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' }, 400],
    [{ body: { taxID: 'ok' }, headers: { 'content-type': 'text/plain' } }, 415],
    [{ body: JSON.stringify({ taxID: 'ok', pad: 'x'.repeat(5000) }) }, 413],
    [{ body: { taxID: 'ok' }, headers: { 'X-Mock-Polls': '-1' } }, 400],
    [{ body: { taxID: 'ok' }, headers: { 'X-Mock-Fail-Rate': 'NaN' } }, 400],
    [{ body: { taxID: 'ok' }, headers: { 'X-Mock-Latency-Ms': '999999999999' } }, 400],
    [{ body: { taxID: 'ok' }, headers: { 'X-Mock-Never-Ready': 'maybe' } }, 400],
  ];
  for (const [opts, status] of cases) {
    const r = await call(main, 'POST', P, opts);
    assertJsonError(r, status);
    assert.ok(isAscii(r.json.error), r.json.error);
  }
  // Exactly 32 characters is the longest tax ID.
  await startJob(main, 'credit-bureau', 'a'.repeat(32));
  // An oversized body sent chunked (no Content-Length).
  const chunk = new TextEncoder().encode('x'.repeat(1024));
  let sent = 0;
  const stream = new ReadableStream({
    pull(ctl) {
      if (sent++ < 8) ctl.enqueue(chunk);
      else ctl.close();
    },
  });
  assertJsonError(await call(main, 'POST', P, { body: stream }), 413);

  assertJsonError(await call(main, 'POST', '/v1/no-such-provider/jobs', { body: { taxID: 'x' } }), 404);
  assertJsonError(await call(main, 'GET', '/v1/no-such-provider/jobs/abc'), 404);
  assertJsonError(await call(main, 'GET', '/nope'), 404);
  assertJsonError(await call(main, 'GET', '/v1/credit-bureau'), 404);
  assertJsonError(await call(main, 'GET', '/v1/credit-bureau/other'), 404);
  assertJsonError(await call(main, 'GET', '/v1/credit-bureau/jobs/a/b'), 404);
  const m1 = await call(main, 'GET', P);
  assertJsonError(m1, 405);
  assert.equal(m1.headers.get('allow'), 'POST');
  const m2 = await call(main, 'DELETE', `${P}/0123456789abcdef0123456789abcdef`);
  assertJsonError(m2, 405);
  assert.equal(m2.headers.get('allow'), 'GET');
  assertJsonError(await call(main, 'PUT', P, { body: { taxID: 'x' } }), 405);
  assertJsonError(await call(main, 'POST', '/healthz', { body: {} }), 405);
  assertJsonError(await call(main, 'POST', '/v1/stats', { body: {} }), 405);
  // Still alive.
  assert.equal((await call(main, 'GET', '/healthz')).status, 200);
});

test('/v1/stats counts per provider', async () => {
  const before = (await call(main, 'GET', '/v1/stats')).json;
  for (const p of PROVIDERS) {
    const s = before.providers[p];
    for (const k of ['jobsStarted', 'polls', 'completed', 'failuresInjected',
      'serverErrors', 'rateLimited', 'timeouts', 'malformed', 'badRequests'])
      assert.ok(Number.isInteger(s[k]) && s[k] >= 0, `${p}.${k}`);
  }
  await dataOf(main, 'tax-authority', TAX[0]);
  const after_ = (await call(main, 'GET', '/v1/stats')).json;
  const d = (k) => after_.providers['tax-authority'][k] - before.providers['tax-authority'][k];
  assert.equal(d('jobsStarted'), 1);
  assert.equal(d('polls'), 1);
  assert.equal(d('completed'), 1);
  assert.equal(after_.jobs, before.jobs + 1);
});

test('PROVIDER_<NAME> spec settings apply per provider', async () => {
  const c = await start({
    PROVIDER_POLLS: '1',
    PROVIDER_TAX_AUTHORITY: ' fail_rate = 1 , retry_after=3 ',
    PROVIDER_PROPERTY_REGISTRY: 'never_ready=true,polls=0',
    PROVIDER_CREDIT_BUREAU: 'rate_limit_rate=1,retry_after=9',
  });
  const f = await call(c, 'POST', '/v1/tax-authority/jobs', { body: { taxID: 'x' } });
  assert.ok([500, 502, 503].includes(f.status), f.text);
  const l = await call(c, 'POST', '/v1/credit-bureau/jobs', { body: { taxID: 'x' } });
  assert.equal(l.status, 429);
  assert.equal(l.headers.get('retry-after'), '9');
  const id = await startJob(c, 'property-registry', 'x');
  for (let i = 0; i < 5; i++)
    assert.equal((await poll(c, 'property-registry', id)).json.status, 'processing');
  assert.equal((await stop(c)).code, 0);
});

test('job table: the least recently used job goes when full', async () => {
  const c = await start({ PROVIDERS_MAX_JOBS: '16', PROVIDER_POLLS: '0' });
  const ids = [];
  for (let i = 0; i < 16; i++) ids.push(await startJob(c, 'credit-bureau', `lru-${i}`));
  // Touch the first job so the second one is the least recently used.
  assert.equal((await poll(c, 'credit-bureau', ids[0])).status, 200);
  await startJob(c, 'credit-bureau', 'lru-16');
  assert.equal((await poll(c, 'credit-bureau', ids[0])).status, 200);
  assertJsonError(await poll(c, 'credit-bureau', ids[1]), 404);
  const st = (await call(c, 'GET', '/v1/stats')).json;
  assert.equal(st.jobs, 16);
  assert.equal(st.evicted, 1);
  assert.equal((await stop(c)).code, 0);
});

test('over PROVIDERS_MAX_CONNS: 503 with Retry-After and Connection: close, counted; served again once under', async () => {
  const c = await start({ PROVIDERS_MAX_CONNS: '4' });
  // Five idle connections hold the server over its limit of four.
  const idle = await Promise.all(Array.from({ length: 5 }, () => new Promise((res, rej) => {
    const s = net.connect(c.port, '127.0.0.1', () => res(s));
    s.once('error', rej);
  })));
  await sleep(200);	// accepted by the server
  const r = await call(c, 'POST', '/v1/credit-bureau/jobs', { body: { taxID: 'over-1' } });
  assertJsonError(r, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.headers.get('connection'), 'close');
  for (const s of idle) s.destroy();
  await waitUntil('served again', async () => (await call(c, 'GET', '/healthz')).status === 200);
  const st = (await call(c, 'GET', '/v1/stats')).json;
  assert.ok(st.overLimit >= 1, `overLimit ${st.overLimit}`);
  assert.ok(Number.isInteger(st.connections) && st.connections >= 1);
  assert.equal((await stop(c)).code, 0);
});

test('job table: a job idle past PROVIDERS_JOB_TTL_SEC is forgotten', async () => {
  const c = await start({ PROVIDERS_JOB_TTL_SEC: '1' });
  const id = await startJob(c, 'tax-authority', 'ttl');
  await waitFor('the job to expire', async () => {
    const st = (await call(c, 'GET', '/v1/stats')).json;
    return st.expired === 1 && st.jobs === 0;
  });
  assertJsonError(await poll(c, 'tax-authority', id), 404);
  assert.equal((await stop(c)).code, 0);
});

test('bad configuration exits 2 naming the variable; a taken port exits 1', async () => {
  for (const [env, name] of [
    [{ PROVIDER_CREDIT_BUREAU: 'polls=x' }, 'PROVIDER_CREDIT_BUREAU'],
    [{ PROVIDER_TAX_AUTHORITY: 'fail_rate=1.5' }, 'PROVIDER_TAX_AUTHORITY'],
    [{ PROVIDER_PROPERTY_REGISTRY: 'bogus=1' }, 'PROVIDER_PROPERTY_REGISTRY'],
    [{ PROVIDER_PROPERTY_REGISTRY: 'polls' }, 'PROVIDER_PROPERTY_REGISTRY'],
    [{ PROVIDER_POLLS: '-1' }, 'PROVIDER_POLLS'],
    [{ PROVIDERS_PORT: '70000' }, 'PROVIDERS_PORT'],
  ]) {
    const c = await start(env, { wantExit: true, port: env.PROVIDERS_PORT });
    assert.equal(c.exit.code, 2, c.out);
    assert.match(c.out, new RegExp(name));
  }
  const taken = await start({}, { port: main.port, wantExit: true });
  assert.equal(taken.exit.code, 1, taken.out);
  assert.match(taken.out, /PROVIDERS_PORT/);
  assert.equal((await call(main, 'GET', '/healthz')).status, 200);
});

test('SIGTERM exits 0, also with a request hanging', async () => {
  const ac = new AbortController();
  const before = (await call(main, 'GET', '/v1/stats')).json.providers['tax-authority'].timeouts;
  const hung = call(main, 'POST', '/v1/tax-authority/jobs', {
    body: { taxID: TAX[0] },
    headers: { 'X-Mock-Timeout-Rate': '1', 'X-Mock-Timeout-Ms': '120000' },
    signal: ac.signal,
  }).catch(() => null);
  await waitFor('the hang to start', async () =>
    (await call(main, 'GET', '/v1/stats')).json.providers['tax-authority'].timeouts > before);
  const r = await stop(main);
  assert.equal(r.code, 0, main.out);
  assert.match(main.out, /ev=providers_exit status=0/);
  ac.abort();
  await hung;
});

test('logs: no sanitizer report, no tax ID, one line per request and job', () => {
  const all = [...children].map((c) => c.out).join('\n');
  assert.doesNotMatch(all, /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  for (const tax of TAX) assert.ok(!all.includes(tax), `tax ID ${tax} logged`);
  assert.match(all, /ev=job_started provider=credit-bureau job=[0-9a-f]{32}/);
  assert.match(all, /ev=job_completed provider=\S+ job=[0-9a-f]{32}/);
  assert.match(all, /ev=request method=GET path=\S+ status=200/);
  for (const c of children)
    assert.ok(c.proc.exitCode !== null || c.proc.signalCode !== null, 'every child exited');
});
