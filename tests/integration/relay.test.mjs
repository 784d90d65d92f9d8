// The WebSocket relay (bin/ws-relay, graphql-transport-ws) through nginx on
// the private stack, with the graphql-ws client from npm as the outside
// reference and raw `ws` sockets for protocol violations.  Events are
// produced with kcat into report.progress / report.ready, as the worker does.
//
// Timing-dependent behaviour (init timeout, server pings, dead peers, slow
// consumers, SIGTERM) is checked on a second, private relay started by this
// file on a free port with short settings; it logs into the stack's log
// directory so the suite's sanitizer check covers it.
//
// Run alone: tools/stack.sh up with the env of tools/run-tests.sh, then
//   node --test tests/integration/relay.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { createTenant, dataSource, gql, signUp, tokenFor } from './gql.mjs';
import { freePort } from './lib.mjs';

const WS_URL = `ws://127.0.0.1:${process.env.HTTP_PORT ?? 3000}/graphql`;
const PROTO = 'graphql-transport-ws';
const BROKERS = process.env.KAFKA_BROKERS;
const LOG_DIR = process.env.VAR_DIR ? join(process.env.VAR_DIR, 'log') : '/tmp';
const BIN_DIR = process.env.BIN_DIR ?? 'bin';
const WAIT_MS = 15000;
const RND = randomBytes(3).toString('hex');

// ---- helpers ---------------------------------------------------------------

const b64url = b => Buffer.from(b).toString('base64url');
function jwt(claims, secret = process.env.JWT_SECRET) {
	const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
	const body = b64url(JSON.stringify(claims));
	const mac = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
	return `${head}.${body}.${mac}`;
}
// A token like the service's own (the relay checks signature and exp only).
function tokenOf(tenantId, userId, ttlSec = 600) {
	const now = Math.floor(Date.now() / 1000);
	return jwt({ sub: String(userId), username: `u${userId}`, tenantId, iat: now, exp: now + ttlSec });
}
const userIdOf = token => Number(JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub);

function event(tenantID, reportID, userID, status, progress, extra = {}) {
	const done = status === 'COMPLETED' || status === 'FAILED';
	return {
		tenantID, reportID, userID, status, progress,
		fileURL: status === 'COMPLETED' ? `http://localhost/reports/${tenantID}/${reportID}.csv?sig=x` : null,
		error: status === 'FAILED' ? 'provider failed' : null,
		createdAt: '2026-11-29T08:30:00.123Z',
		completedAt: done ? '2026-11-29T08:31:00.123Z' : null,
		providers: ['credit-bureau', 'tax-authority', 'property-registry'].map((name, i) => ({
			name, status: progress >= (i + 1) * 33 ? 'COMPLETED' : 'PROCESSING', attempts: 1, error: null,
		})),
		...extra,
	};
}

// Produces events (each [key, object] or a raw string payload under key).
function produce(topic, items) {
	return new Promise((resolve, reject) => {
		const p = spawn('kcat', ['-b', BROKERS, '-P', '-t', topic, '-K', '|'], { stdio: ['pipe', 'ignore', 'pipe'] });
		let err = '';
		p.stderr.on('data', d => { err += d; });
		p.on('error', reject);
		p.on('close', code => code === 0 ? resolve() : reject(new Error(`kcat exit ${code}: ${err}`)));
		p.stdin.end(items.map(([k, v]) => `${k}|${typeof v === 'string' ? v : JSON.stringify(v)}\n`).join(''));
	});
}
const progressEv = ev => produce('report.progress', [[ev.tenantID, ev]]);
const readyEv = ev => produce('report.ready', [[ev.tenantID, ev]]);

// Polls cond (sync) every 20 ms until true; throws after ms.
async function until(cond, what, ms = WAIT_MS) {
	const deadline = Date.now() + ms;
	while (!cond()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise(r => setTimeout(r, 20));
	}
}

// Repeats act() until cond() holds (the relay starts at the latest offset and
// joins its consumer group asynchronously, so the first event may be early).
async function retryUntil(act, cond, what, ms = WAIT_MS) {
	const deadline = Date.now() + ms;
	for (;;) {
		await act();
		const step = Date.now() + 500;
		while (!cond() && Date.now() < step) await new Promise(r => setTimeout(r, 20));
		if (cond()) return;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
	}
}

// A raw graphql-transport-ws socket that records messages and its close.
class Raw {
	constructor(url = WS_URL, protocols = PROTO, { autoPong = false } = {}) {
		this.msgs = [];
		this.closed = null;
		this.ws = new WebSocket(url, protocols);
		this.opened = new Promise((res, rej) => {
			this.ws.once('open', res);
			this.ws.once('error', rej);
		});
		this.ws.on('error', () => {});
		this.ws.on('message', (d, binary) => {
			const m = binary ? d : JSON.parse(d.toString());
			this.msgs.push(m);
			if (autoPong && m.type === 'ping') this.send({ type: 'pong' });
		});
		this.done = new Promise(res => this.ws.on('close', (code, reason) => {
			this.closed = { code, reason: reason.toString() };
			res(this.closed);
		}));
	}
	send(m) { this.ws.send(typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m)); }
	of(type) { return this.msgs.filter(m => m.type === type); }
	async next(type, n = 1) {
		await until(() => this.of(type).length >= n || this.closed, `${n} ${type} message(s)`);
		if (this.of(type).length < n)
			throw new Error(`closed ${JSON.stringify(this.closed)} before ${type}; got ${JSON.stringify(this.msgs)}`);
		return this.of(type)[n - 1];
	}
	// Resolves when every message sent before is processed (the relay
	// answers in order).
	async sync() {
		const n = this.of('pong').length;
		this.send({ type: 'ping' });
		await this.next('pong', n + 1);
	}
	async init(token) {
		await this.opened;
		this.send({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } });
		await this.next('connection_ack');
		return this;
	}
	async closeCode() { return (await this.done).code; }
	end() { if (this.ws.readyState <= 1) this.ws.close(1000); }
}

// A graphql-ws client; returns { client, values, errors, completed }.
function subscribe(token, query, { variables, url = WS_URL } = {}) {
	const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false,
		connectionParams: { Authorization: `Bearer ${token}` } });
	const s = { client, values: [], errors: [], completed: false };
	s.unsubscribe = client.subscribe({ query, variables }, {
		next: v => s.values.push(v),
		error: e => s.errors.push(e),
		complete: () => { s.completed = true; },
	});
	return s;
}


// ---- fixtures --------------------------------------------------------------

const T1 = `relay-a-${RND}`, T2 = `relay-b-${RND}`;
let alice, bob, carol;		// tokens: alice and bob in T1, carol in T2
const cleanups = [];

// Started at load time: a socket that never sends connection_init must be
// closed with 4408 after RELAY_INIT_TIMEOUT_MS (10 s on the stack); the
// last test collects it, so the wait overlaps the other tests.
const noInit = new Raw();

before(async () => {
	for (const [t, db] of [[T1, `relay_a_${RND}`], [T2, `relay_b_${RND}`]]) {
		const r = await createTenant(t, dataSource(db));
		assert.equal(r.json?.errors, undefined, r.text);
	}
	for (const [t, u] of [[T1, `ra-alice-${RND}`], [T1, `ra-bob-${RND}`], [T2, `rb-carol-${RND}`]]) {
		const r = await signUp(t, u);
		assert.equal(r.json?.errors, undefined, r.text);
	}
	alice = await tokenFor(`ra-alice-${RND}`);
	bob = await tokenFor(`ra-bob-${RND}`);
	carol = await tokenFor(`rb-carol-${RND}`);

	// Warm-up: the relay's consumer joins its group asynchronously.
	const w = await new Raw().init(tokenOf(`relay-warm-${RND}`, 1));
	w.send({ id: 'w', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	await w.sync();
	let rid = 1;
	await retryUntil(() => readyEv(event(`relay-warm-${RND}`, rid++, 1, 'COMPLETED', 100)),
		() => w.of('next').length > 0, 'the relay to consume events');
	w.end();
});

after(async () => {
	noInit.end();
	for (const f of cleanups.reverse()) await f();
});

// ---- the walkthrough -------------------------------------------------------

test('walkthrough: createReport, then reportProgress steps in order and reportReady for it (graphql-ws)', async () => {
	const uid = userIdOf(alice);
	const r = await gql('mutation { createReport { reportID status progress } }', { token: alice });
	assert.equal(r.json?.errors, undefined, r.text);
	const id = r.json.data.createReport.reportID;
	assert.equal(r.json.data.createReport.status, 'PENDING');

	const ready = subscribe(alice, 'subscription { reportReady }');
	const prog = subscribe(alice, 'subscription P($id: Int) { reportProgress(id: $id) { reportID status progress providers { name status } } }',
		{ variables: { id } });
	cleanups.push(() => ready.client.dispose(), () => prog.client.dispose());

	// Until the subscription is active, the first step may be produced again.
	await retryUntil(() => progressEv(event(T1, id, uid, 'IN_PROGRESS', 0)),
		() => prog.values.length > 0, 'the first progress step');
	await progressEv(event(T1, id, uid, 'IN_PROGRESS', 33));
	await progressEv(event(T1, id, uid, 'IN_PROGRESS', 66));
	const done = event(T1, id, uid, 'COMPLETED', 100);
	await progressEv(done);
	await readyEv(done);

	await until(() => ready.values.length > 0 && prog.completed, 'reportReady and the end of reportProgress');
	assert.deepEqual(ready.values, [{ data: { reportReady: {
		reportID: id, status: 'COMPLETED', fileURL: done.fileURL, progress: 100, error: null } } }]);
	const steps = prog.values.map(v => v.data.reportProgress);
	assert.ok(steps.every(s => s.reportID === id), JSON.stringify(steps));
	const pr = steps.map(s => s.progress);
	assert.deepEqual([...pr].sort((a, b) => a - b), pr, `non-decreasing: ${pr}`);
	for (const p of [33, 66, 100]) assert.ok(pr.includes(p), `step ${p} in ${pr}`);
	assert.equal(steps.at(-1).status, 'COMPLETED');
	assert.deepEqual(steps.at(-1).providers.map(p => p.name), ['credit-bureau', 'tax-authority', 'property-registry']);
	assert.deepEqual(prog.errors, []);
	assert.ok(prog.completed, 'reportProgress(id) completes after the final state');
});

test('late and duplicate events: progress never goes back and nothing follows the final state', async () => {
	const uid = userIdOf(alice);
	const ws = await new Raw().init(alice);
	cleanups.push(() => ws.end());
	ws.send({ id: 'all', type: 'subscribe', payload: { query: 'subscription { reportProgress { reportID progress status } }' } });
	ws.send({ id: 'ready', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	await ws.sync();
	const rid = 900000 + Math.floor(Math.random() * 1000);
	await progressEv(event(T1, rid, uid, 'IN_PROGRESS', 50));
	await progressEv(event(T1, rid, uid, 'IN_PROGRESS', 20));	// late: dropped
	const done = event(T1, rid, uid, 'FAILED', 50);
	await readyEv(done);
	await readyEv(done);						// duplicate: dropped
	await progressEv(event(T1, rid, uid, 'IN_PROGRESS', 60));	// after the end: dropped
	await progressEv(event(T1, rid + 1, uid, 'IN_PROGRESS', 1));	// marker
	await until(() => ws.of('next').some(m => m.payload.data.reportProgress?.reportID === rid + 1), 'the marker');
	await ws.sync();
	const nexts = ws.of('next');
	assert.deepEqual(nexts.filter(m => m.id === 'all').map(m => m.payload.data.reportProgress),
		[{ reportID: rid, progress: 50, status: 'IN_PROGRESS' }, { reportID: rid, progress: 50, status: 'FAILED' },
			{ reportID: rid + 1, progress: 1, status: 'IN_PROGRESS' }]);
	assert.deepEqual(nexts.filter(m => m.id === 'ready').map(m => m.payload.data.reportReady),
		[{ reportID: rid, status: 'FAILED', fileURL: null, progress: 50, error: 'provider failed' }]);
});

test('events reach only their tenant AND owner: not another user of the tenant, not the same user id elsewhere', async () => {
	const [ua, ub, uc] = [userIdOf(alice), userIdOf(bob), userIdOf(carol)];
	// carol is the first user of T2 as alice is of T1: the same users.id
	assert.equal(uc, ua);
	const socks = {
		a: await new Raw().init(alice),
		b: await new Raw().init(bob),
		c: await new Raw().init(carol),
	};
	for (const s of Object.values(socks)) {
		cleanups.push(() => s.end());
		s.send({ id: 'r', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
		s.send({ id: 'p', type: 'subscribe', payload: { query: 'subscription { reportProgress { reportID } }' } });
		await s.sync();
	}
	await readyEv(event(T1, 800001, ua, 'COMPLETED', 100));
	await progressEv(event(T1, 800002, ua, 'IN_PROGRESS', 10));
	await until(() => socks.a.of('next').length >= 3, 'alice\'s events');
	// The fan-out queued every copy at once: a socket's first message after
	// this point is its own marker unless it got one of alice's events.
	await readyEv(event(T1, 800003, ub, 'COMPLETED', 100));
	await readyEv(event(T2, 800004, uc, 'COMPLETED', 100));
	await until(() => socks.b.of('next').length && socks.c.of('next').length, 'markers');
	const rid = m => m.payload.data.reportReady?.reportID ?? m.payload.data.reportProgress.reportID;
	assert.deepEqual(socks.a.of('next').map(m => [m.id, rid(m)]).sort(), [['p', 800001], ['p', 800002], ['r', 800001]]);
	for (const [k, want] of [['b', 800003], ['c', 800004]]) {
		await socks[k].sync();
		assert.deepEqual(socks[k].of('next').map(m => [m.id, rid(m)]).sort(), [['p', want], ['r', want]], k);
	}
});

// ---- the protocol -----------------------------------------------------------

test('connection_init accepts "Authorization", "authorization" and a bare token; ping gets pong', async () => {
	for (const payload of [{ Authorization: `Bearer ${bob}` }, { authorization: `Bearer ${bob}` },
		{ Authorization: bob }, bob]) {
		const ws = new Raw();
		await ws.opened;
		ws.send({ type: 'ping', payload: { x: 1 } });
		await ws.next('pong');
		ws.send({ type: 'connection_init', payload });
		await ws.next('connection_ack');
		ws.send({ type: 'pong' });	// unsolicited pong: ignored
		await ws.sync();
		assert.equal(ws.ws.protocol, PROTO);
		ws.end();
		assert.equal(await ws.closeCode(), 1000);
	}
});

const violations = [
	['4400 for a message that is not JSON', async ws => { ws.send('{nope'); }, 4400],
	['4400 for a message without a type', async ws => { ws.send({ id: '1' }); }, 4400],
	['4400 for an unknown message type', async ws => { ws.send({ type: 'start', id: '1' }); }, 4400],
	['4400 for a server-only message type', async ws => { ws.send({ type: 'next', id: '1', payload: {} }); }, 4400],
	['4400 for a binary frame', async ws => { ws.send(Buffer.from('{"type":"ping"}')); }, 4400],
	['4400 for subscribe without an id', async ws => {
		await ws.init(alice);
		ws.send({ type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	}, 4400],
	['4400 for subscribe without a query', async ws => { await ws.init(alice); ws.send({ type: 'subscribe', id: '1', payload: {} }); }, 4400],
	['4401 for subscribe before connection_ack', async ws => {
		ws.send({ type: 'subscribe', id: '1', payload: { query: 'subscription { reportReady }' } });
	}, 4401],
	['4429 for a second connection_init', async ws => {
		await ws.init(alice);
		ws.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice}` } });
	}, 4429],
	['4409 for a subscription id in use', async ws => {
		await ws.init(alice);
		const s = { type: 'subscribe', id: 'dup', payload: { query: 'subscription { reportReady }' } };
		ws.send(s);
		ws.send(s);
	}, 4409],
	['4403 for a token with a bad signature', async ws => {
		ws.send({ type: 'connection_init', payload: { Authorization: `Bearer ${jwt({ sub: '1', tenantId: T1, username: 'x', iat: 1, exp: 4e9 }, 'x'.repeat(40))}` } });
	}, 4403],
	['4403 for an expired token', async ws => {
		ws.send({ type: 'connection_init', payload: { Authorization: `Bearer ${tokenOf(T1, 1, -60)}` } });
	}, 4403],
	['4403 without a token', async ws => { ws.send({ type: 'connection_init' }); }, 4403],
	['4403 for garbage as a token', async ws => { ws.send({ type: 'connection_init', payload: { Authorization: 'Bearer a.b.c' } }); }, 4403],
	['1009 for a message over RELAY_MAX_MSG_BYTES', async ws => {
		ws.send({ type: 'ping', payload: { pad: 'x'.repeat(70000) } });
	}, 1009],
];
for (const [name, act, want] of violations) {
	test(`close ${name}`, async () => {
		const ws = new Raw();
		await ws.opened;
		await act(ws);
		assert.equal(await ws.closeCode(), want, JSON.stringify(ws.closed));
	});
}

test('close 4406 when graphql-transport-ws is not offered', async () => {
	const ws = new Raw(WS_URL, []);
	ws.opened.catch(() => {});
	const c = await ws.done;
	assert.ok(c.code === 4406 || c.code === 1006, JSON.stringify(c));	// refused or closed
	const old = new Raw(WS_URL, 'graphql-ws');	// the legacy protocol's name
	old.opened.catch(() => {});
	const c2 = await old.done;
	assert.ok(c2.code === 4406 || c2.code === 1006, JSON.stringify(c2));
});

test('an invalid document gets an `error` message with GraphQL errors and the socket stays open', async () => {
	const ws = await new Raw().init(alice);
	cleanups.push(() => ws.end());
	const cases = [
		['syntax', 'subscription {', 'GRAPHQL_PARSE_FAILED'],
		['unknown', 'subscription { nope }', 'GRAPHQL_VALIDATION_FAILED'],
		['two', 'subscription { reportReady reportProgress { reportID } }', 'GRAPHQL_VALIDATION_FAILED'],
		['query', '{ me { username } }', 'BAD_USER_INPUT'],
		['mutation', 'mutation { createReport { reportID } }', 'BAD_USER_INPUT'],
		['vars', 'subscription($id: Int) { reportProgress(id: $id) { reportID } }', 'BAD_USER_INPUT', { id: 'x' }],
	];
	for (const [id, query, code, variables] of cases) {
		ws.send({ id, type: 'subscribe', payload: { query, variables } });
		const m = await ws.next('error', ws.of('error').length + 1);
		assert.equal(m.id, id);
		assert.ok(Array.isArray(m.payload) && m.payload.length > 0, JSON.stringify(m));
		assert.equal(m.payload[0].extensions.code, code, JSON.stringify(m));
		assert.equal(typeof m.payload[0].message, 'string');
	}
	assert.match(ws.of('error').find(m => m.id === 'query').payload[0].message, /only subscriptions/);
	// still open, and the ids of refused subscriptions are free again
	ws.send({ id: 'syntax', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	await ws.sync();
	assert.equal(ws.closed, null);
});

test('graphql-ws surfaces a refused document as an error', async () => {
	const s = subscribe(alice, 'subscription { reportReady { x } }');
	cleanups.push(() => s.client.dispose());
	await until(() => s.errors.length > 0, 'the error');
	assert.equal(s.errors[0][0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
});

test('many subscriptions per connection, complete from the client stops one, the limit is an error', async () => {
	const uid = userIdOf(bob);
	const ws = await new Raw().init(bob);
	cleanups.push(() => ws.end());
	for (let i = 0; i < 5; i++)
		ws.send({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	ws.send({ id: 's2', type: 'complete' });
	ws.send({ id: 'never-there', type: 'complete' });
	await ws.sync();
	await readyEv(event(T1, 700001, uid, 'COMPLETED', 100));
	await until(() => ws.of('next').length >= 4, 'four copies');
	await ws.sync();
	assert.deepEqual(ws.of('next').map(m => m.id).sort(), ['s0', 's1', 's3', 's4']);
	// RELAY_MAX_SUBS_PER_CONN is 100 on the stack
	for (let i = 5; i < 102; i++)
		ws.send({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	const e = await ws.next('error');
	assert.equal(e.id, 's101');
	assert.match(e.payload[0].message, /too many subscriptions/);
	assert.equal(ws.closed, null);
});

test('an expired token is refused by graphql-ws, and a token expiring while connected closes with 4403', async () => {
	const closes = [];
	const client = createClient({ url: WS_URL, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false,
		connectionParams: { Authorization: `Bearer ${tokenOf(T1, 1, -1)}` }, onNonLazyError: () => {}, on: { closed: e => closes.push(e.code) } });
	cleanups.push(() => client.dispose());
	await until(() => closes.length > 0, 'the close');
	assert.equal(closes[0], 4403);

	const ws = await new Raw().init(tokenOf(T1, 1, 2));
	assert.equal(await ws.closeCode(), 4403);
	assert.match(ws.closed.reason, /expired/);
});

test('1,000 concurrent subscribers each receive exactly their own event', async () => {
	const N = 1000, tenants = [`relay-m1-${RND}`, `relay-m2-${RND}`];
	const socks = [];
	for (let i = 0; i < N; i += 100) {
		const batch = [];
		for (let j = i; j < i + 100; j++) batch.push(new Raw().init(tokenOf(tenants[j % 2], 1 + Math.floor(j / 2))));
		socks.push(...await Promise.all(batch));
	}
	cleanups.push(() => socks.forEach(s => s.end()));
	await Promise.all(socks.map(async (s, j) => {
		s.send({ id: 'r', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
		if (j % 10 === 0)
			s.send({ id: 'p', type: 'subscribe', payload: { query: 'subscription { reportProgress(id: 5) { progress } }' } });
		await s.sync();
	}));
	await produce('report.ready', socks.map((s, j) => [tenants[j % 2],
		event(tenants[j % 2], 10000 + j, 1 + Math.floor(j / 2), 'COMPLETED', 100)]));
	await until(() => socks.every(s => s.of('next').length >= 1), 'every subscriber\'s event', 20000);
	await Promise.all(socks.map(s => s.sync()));
	socks.forEach((s, j) => {
		assert.deepEqual(s.of('next').map(m => [m.id, m.payload.data.reportReady.reportID]), [['r', 10000 + j]]);
	});
});

test('the relay survives clients that vanish without closing', async () => {
	const uid = userIdOf(bob);
	for (let round = 0; round < 3; round++) {
		const gone = [];
		for (let i = 0; i < 50; i++) {
			const s = await new Raw().init(bob);
			s.send({ id: 'r', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
			gone.push(s);
		}
		await Promise.all(gone.map(s => s.sync()));
		// half vanish at once (TCP torn down, no close frame), half mid-message
		gone.forEach((s, i) => {
			if (i % 2) s.ws._socket.destroy();
			else { s.ws._socket.write(Buffer.from([0x81, 0xfe, 0x01])); s.ws._socket.destroy(); }
		});
		await readyEv(event(T1, 600000 + round, uid, 'COMPLETED', 100));
	}
	const ws = await new Raw().init(bob);
	cleanups.push(() => ws.end());
	ws.send({ id: 'r', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	await ws.sync();
	await readyEv(event(T1, 600100, uid, 'COMPLETED', 100));
	const m = await ws.next('next');
	assert.equal(m.payload.data.reportReady.reportID, 600100);
});

test('invalid events are skipped and the relay keeps serving', async () => {
	const uid = userIdOf(bob);
	const ws = await new Raw().init(bob);
	cleanups.push(() => ws.end());
	ws.send({ id: 'r', type: 'subscribe', payload: { query: 'subscription { reportReady }' } });
	await ws.sync();
	const good = event(T1, 500001, uid, 'COMPLETED', 100);
	await produce('report.ready', [
		[T1, '{not json'], [T1, '[]'], [T1, 'null'], [T1, '"x"'],
		[T1, { ...good, reportID: 'x' }], [T1, { ...good, userID: -1 }], [T1, { ...good, status: 'DONE' }],
		[T1, { ...good, status: 'IN_PROGRESS' }], [T1, { ...good, progress: 101 }], [T1, { ...good, tenantID: 7 }],
		[T1, { ...good, providers: 'x' }], [T1, { ...good, fileURL: 5 }], ['other-tenant', good],
		[T1, JSON.stringify({ a: [[[[[[[[[[[[1]]]]]]]]]]]] })],
		[T1, good],
	]);
	const m = await ws.next('next');
	assert.equal(m.payload.data.reportReady.reportID, 500001);
	await ws.sync();
	assert.equal(ws.of('next').length, 1);
});

// ---- a private relay with short timers ---------------------------------------

test('private relay: init timeout, server pings, dead peers, slow consumer, SIGTERM -> 1001', async () => {
	const port = await freePort();
	const logFile = join(LOG_DIR, `relay-test-${RND}.log`);
	const fd = openSync(logFile, 'a');	// stderr too: sanitizer reports land here
	const env = { ...process.env, RELAY_PORT: String(port), LOG_FILE: logFile, LOG_LEVEL: 'info',
		RELAY_INIT_TIMEOUT_MS: '400', RELAY_PING_INTERVAL_MS: '1000', RELAY_SEND_QUEUE_MAX: '256' };
	const relay = spawn(join(BIN_DIR, 'ws-relay'), [], { env, stdio: ['ignore', fd, fd] });
	closeSync(fd);
	const exited = new Promise(res => relay.on('exit', (code, signal) => res({ code, signal })));
	cleanups.push(() => { if (relay.exitCode === null && relay.signalCode === null) relay.kill('SIGKILL'); });
	const url = `ws://127.0.0.1:${port}/graphql`;
	const uid = 4242, tenant = `relay-p-${RND}`, tok = tokenOf(tenant, uid);

	// connect as soon as it listens (bounded)
	let first;
	const deadline = Date.now() + WAIT_MS;
	for (;;) {
		const r = new Raw(url);
		try { await r.opened; first = r; break; } catch {
			if (Date.now() > deadline) throw new Error('the private relay did not listen');
			await new Promise(res => setTimeout(res, 50));
		}
	}
	// 1. no connection_init in time
	assert.deepEqual(await first.done, { code: 4408, reason: 'Connection initialisation timeout' });

	// 2. server keep-alive pings: an answering client stays, a silent one goes
	const live = await new Raw(url, PROTO, { autoPong: true }).init(tok);
	const silent = await new Raw(url, PROTO, { autoPong: false }).init(tok);
	const pings = [];
	const gw = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false,
		connectionParams: { authorization: tok }, onNonLazyError: () => {}, on: { ping: received => { if (received) pings.push(1); } } });
	cleanups.push(() => gw.dispose(), () => live.end());
	assert.deepEqual(await silent.done, { code: 1008, reason: 'keep-alive timeout' });
	await until(() => live.of('ping').length >= 3 && pings.length >= 2, 'server pings');
	assert.equal(live.closed, null, 'a client answering pings stays connected');

	// 3. a slow consumer is closed when its queue overflows; others go on
	const gate = await new Raw(url, PROTO, { autoPong: true }).init(tok);
	const q = 'subscription { reportProgress { progress error } }';
	live.send({ id: 'p', type: 'subscribe', payload: { query: q } });
	// 8 subscriptions: 8 copies of every event for the client that stalls
	for (let i = 0; i < 8; i++) gate.send({ id: `p${i}`, type: 'subscribe', payload: { query: q } });
	await live.sync();
	await gate.sync();
	await retryUntil(() => progressEv(event(tenant, 1, uid, 'IN_PROGRESS', 1)),
		() => live.of('next').length > 0, 'the private relay to consume');
	gate.ws._socket.pause();
	// ~2 MB through Kafka (the stand-in keeps a few MB per partition), ~14 MB
	// for the stalled client: more than the kernel's socket buffers take
	const N = 1500, big = 'e'.repeat(1000);
	await produce('report.progress', Array.from({ length: N }, (_, i) =>
		[tenant, event(tenant, 2, uid, 'IN_PROGRESS', 10, { error: `${i} ${big}` })]));
	await until(() => live.of('next').some(m => m.payload.data.reportProgress.error?.startsWith(`${N - 1} `)),
		'the fast client to get every event', 30000);
	const log = await readFile(logFile, 'utf8');
	assert.match(log, /ev=send_queue_overflow/);
	gate.ws._socket.resume();
	const gc = await gate.done;
	assert.ok(gc.code === 1008 || gc.code === 1006, JSON.stringify(gc));
	assert.equal(live.closed, null);

	// 4. SIGTERM: every socket gets 1001 and the process exits 0
	relay.kill('SIGTERM');
	assert.deepEqual(await live.done, { code: 1001, reason: 'going away' });
	assert.deepEqual(await exited, { code: 0, signal: null });
	assert.match(await readFile(logFile, 'utf8'), /ev=stopped/);
});

test('private relay: RELAY_MAX_CONNS answers 1013, SIGHUP reopens the log file', async () => {
	const port = await freePort();
	const logFile = join(LOG_DIR, `relay-test2-${RND}.log`);
	const fd = openSync(logFile, 'a');
	const relay = spawn(join(BIN_DIR, 'ws-relay'), [], {
		env: { ...process.env, RELAY_PORT: String(port), LOG_FILE: logFile, LOG_LEVEL: 'info', RELAY_MAX_CONNS: '2' },
		stdio: ['ignore', fd, fd] });
	closeSync(fd);
	const exited = new Promise(res => relay.on('exit', (code, signal) => res({ code, signal })));
	cleanups.push(() => { if (relay.exitCode === null && relay.signalCode === null) relay.kill('SIGKILL'); });
	const url = `ws://127.0.0.1:${port}/graphql`;
	const tok = tokenOf(`relay-q-${RND}`, 1);
	let a;
	const deadline = Date.now() + WAIT_MS;
	for (;;) {
		const r = new Raw(url);
		try { await r.opened; a = r; break; } catch {
			if (Date.now() > deadline) throw new Error('the private relay did not listen');
			await new Promise(res => setTimeout(res, 50));
		}
	}
	await a.init(tok);
	const b = await new Raw(url).init(tok);
	const c = new Raw(url);
	assert.deepEqual(await c.done, { code: 1013, reason: 'too many connections' });
	b.end();
	await b.done;
	const d = await new Raw(url).init(tok);	// a slot is free again

	await rename(logFile, `${logFile}.1`);
	relay.kill('SIGHUP');
	await until(() => existsSync(logFile), 'the log file to be reopened');
	d.end();
	await d.done;
	await until(() => readFileSync(logFile, 'utf8').includes('ev=conn_close'), 'a line in the new file');

	relay.kill('SIGTERM');
	assert.equal((await a.done).code, 1001);
	assert.deepEqual(await exited, { code: 0, signal: null });
	await rename(`${logFile}.1`, `${logFile.replace(/\.log$/, '')}-before-hup.log`);
});

test('no connection_init within RELAY_INIT_TIMEOUT_MS closes with 4408 (through nginx)', async () => {
	assert.deepEqual(await noInit.done, { code: 4408, reason: 'Connection initialisation timeout' });
});
