// Client side of bench/relay.sh (not a test): opens N idle authenticated
// graphql-transport-ws connections straight to the relay and reports its RSS,
// then measures report.ready -> client latency at a fixed event rate.
//
// Events are produced with kafkajs (one request per 10 ms tick).
// env: RELAY_URL, RELAY_PID, KAFKA_BROKERS, JWT_SECRET, IDLE_CONNS (10000),
//      SUBSCRIBERS (1000), RATE (events/s, 1000), SECS (10)
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../tests/integration/package.json'));
const WebSocket = require('ws');

const URL = process.env.RELAY_URL;
const PID = process.env.RELAY_PID;
const IDLE = +(process.env.IDLE_CONNS ?? 10000);
const SUBS = +(process.env.SUBSCRIBERS ?? 1000);
const RATE = +(process.env.RATE ?? 1000);
const SECS = +(process.env.SECS ?? 10);
const TENANT = 'bench-relay';
const WARM_ID = 2000000000;	/* warm-up events' report ids */
const now = () => performance.timeOrigin + performance.now();

const b64url = b => Buffer.from(b).toString('base64url');
function token(user) {
	const t = Math.floor(Date.now() / 1000);
	const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
	const body = b64url(JSON.stringify({ sub: String(user), username: `b${user}`, tenantId: TENANT, iat: t, exp: t + 3600 }));
	return `${head}.${body}.${createHmac('sha256', process.env.JWT_SECRET).update(`${head}.${body}`).digest('base64url')}`;
}
function rssKiB() {
	const m = readFileSync(`/proc/${PID}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
	return +m[1];
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

// One authenticated connection; resolves once acked.  onNext gets payloads.
function connect(user, onNext) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(URL, 'graphql-transport-ws', { perMessageDeflate: false });
		ws.on('error', reject);
		ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token(user)}` } })));
		ws.on('message', d => {
			const m = JSON.parse(d);
			if (m.type === 'connection_ack') resolve(ws);
			else if (m.type === 'ping') ws.send('{"type":"pong"}');
			else if (m.type === 'next' && onNext) onNext(m);
		});
	});
}
async function connectMany(n, base, onNext) {
	const out = [];
	for (let i = 0; i < n; i += 500) {
		const batch = [];
		for (let j = i; j < Math.min(n, i + 500); j++) batch.push(connect(base + j, onNext));
		out.push(...await Promise.all(batch));
	}
	return out;
}

// ---- 1. memory of idle authenticated connections -----------------------
const rss0 = rssKiB();
const idle = await connectMany(IDLE, 100000, null);
for (let i = 0; i < 20 && Math.abs(rssKiB() - rss0) < 1; i++) await sleep(50);
const rss1 = rssKiB();
const per = (rss1 - rss0) * 1024 / IDLE;
console.log(`idle: ${IDLE} authenticated connections: relay RSS ${(rss0 / 1024).toFixed(1)} MiB -> ${(rss1 / 1024).toFixed(1)} MiB = ${(per / 1024).toFixed(2)} KiB per connection (target < 10 KiB)`);
idle.forEach(ws => ws.terminate());

// ---- 2. latency: report.ready produced -> next received -----------------
const lat = [];
let received = 0, warm = 0;
const got = new Set();
const subs = await connectMany(SUBS, 1, m => {
	const r = m.payload.data.reportReady;
	const t = +new globalThis.URL(r.fileURL).searchParams.get('t');
	if (r.reportID >= WARM_ID) { warm++; return; }
	received++;
	got.add(r.reportID);
	lat.push(now() - t);
});
await Promise.all(subs.map(ws => new Promise(res => {
	ws.send(JSON.stringify({ id: 'r', type: 'subscribe', payload: { query: 'subscription { reportReady }' } }));
	ws.send('{"type":"ping"}');
	const h = d => { if (JSON.parse(d).type === 'pong') { ws.off('message', h); res(); } };
	ws.on('message', h);
})));

const { Kafka, logLevel } = require('kafkajs');
const kafka = new Kafka({ clientId: 'bench-relay', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
const ev = (id, user) => ({ key: TENANT, value: JSON.stringify({ tenantID: TENANT, reportID: id, userID: user,
	status: 'COMPLETED', progress: 100, fileURL: `http://localhost/reports/x.csv?t=${now()}`, error: null }) });
const send = messages => producer.send({ topic: 'report.ready', acks: 1, messages });

// warm-up: the relay's consumer joins its group asynchronously
let wid = WARM_ID;
for (let i = 0; warm === 0; i++) {
	if (i > 300) throw new Error('the relay consumes nothing');
	await send([ev(wid++, 1)]);
	await sleep(50);
}
await sleep(500);

const total = RATE * SECS, tickMs = 10, perTick = RATE * tickMs / 1000;
const start = now();
let sent = 0;
while (sent < total) {
	const due = Math.min(total, Math.floor((now() - start) / 1000 * RATE) + perTick);
	const batch = [];
	for (; sent < due; sent++) batch.push(ev(sent + 1, 1 + (sent % SUBS)));
	if (batch.length) send(batch).catch(e => { console.error(e); process.exit(1); });
	await sleep(tickMs);
}
const deadline = now() + 10000;
while (received < total && now() < deadline) await sleep(20);
await producer.disconnect();
lat.sort((a, b) => a - b);
const pct = p => lat[Math.min(lat.length - 1, Math.floor(p / 100 * lat.length))].toFixed(2);
console.log(`latency: ${total} report.ready events at ${RATE}/s over ${SUBS} subscribers: received ${received}, ` +
	`p50 ${pct(50)} ms  p99 ${pct(99)} ms  max ${lat.at(-1).toFixed(2)} ms (target p99 < 20 ms)`);
if (received < total) {
	const missing = [];
	for (let i = 1; i <= total && missing.length < 20; i++) if (!got.has(i)) missing.push(i);
	console.log(`missing report ids (first 20): ${missing.join(' ')}`);
}
console.log(`relay RSS after the run: ${(rssKiB() / 1024).toFixed(1)} MiB`);
subs.forEach(ws => ws.close());
process.exit(received === total ? 0 : 1);
