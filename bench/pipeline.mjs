// The report pipeline as shipped (bench/pipeline.sh runs it): prints
// figures, asserts nothing.
//
// A private copy of `make up`'s stack (tools/stack.sh up: PgBouncer, two
// workers, the mock providers, the Kafka stand-in, the relay, nginx), on free
// ports, with `make up`'s settings except the polling period and the
// providers' latency (QUEUE_POLL_INTERVAL_MS=200, PROVIDER_LATENCY_MS=0,
// PROVIDER_RETRY_AFTER_SEC=0; providers ready after PROVIDER_POLLS=2).
//   0. The first report after a fresh start: the stack is stopped and
//      started again (data kept), then one report at once.
//   1. 100 reports at once by one user.
//   2. 1,000 reports at once over 10 tenants (one user each, 100 each).
//   3. A steady stream (10 tenants, 5 reports/s each) for 24 s while one
//      worker is stopped (SIGTERM, at 6 s) and started again (at 12 s): the
//      rebalances' effect on intake lag and on each report's latency.
// For each: submission time, createReport answer → that report's
// reportReady on the user's subscription (through nginx and the relay),
// last reportReady after the last answer, Kafka intake lag (report.create
// produced → job in the queue, from the workers' job_enqueued lines),
// jobs the reconciler had to enqueue, and provider connections refused.
//   BENCH_KEEP=1 keeps the stack's directory.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { freePorts, readEnvFile, sleep } from '../tests/integration/lib.mjs';

const require = createRequire(join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../tests/integration/package.json'));
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');
const run = promisify(execFile);
const REPO = process.env.REPO ?? process.cwd();
const STACK = join(REPO, 'tools/stack.sh');
const PG = { user: process.env.PG_USER ?? 'postgres', password: process.env.PG_PASSWORD ?? 'postgres' };
// The only settings changed from `make up`'s.
const FAST = { QUEUE_POLL_INTERVAL_MS: '200', PROVIDER_LATENCY_MS: '0', PROVIDER_RETRY_AFTER_SEC: '0' };

let ENV, VAR, BASE, WS, SECRETS;
const stack = args => run(STACK, args, { env: ENV, cwd: REPO, maxBuffer: 16 << 20 });

async function gql(query, { token, variables, headers = {} } = {}) {
	const h = { 'content-type': 'application/json', ...headers };
	if (token) h.authorization = `Bearer ${token}`;
	const res = await fetch(BASE + '/graphql', { method: 'POST', headers: h, body: JSON.stringify({ query, variables }) });
	return res.json();
}

async function addUser(i) {
	const t = `pipe-${i}`, db = `pipe_${i}`, u = `pipe-user-${i}`;
	let r = await gql('mutation($i: CreateTenantInput!) { createTenant(createTenantInput: $i) { tenantID } }', {
		variables: { i: { tenantID: t, tenantName: t, dataSource: { host: '127.0.0.1', username: PG.user, password: PG.password, port: ENV.PG_PORT, db } } },
		headers: { 'x-admin-key': SECRETS.ADMIN_KEY } });
	if (r.errors) throw new Error(JSON.stringify(r.errors));
	r = await gql('mutation($s: SignUpInput!) { signUp(signUp: $s) { username } }', { variables: { s: { tenantID: t, username: u, password: 'pass', taxID: `${100 + i}.000.000-00` } } });
	if (r.errors) throw new Error(JSON.stringify(r.errors));
	r = await gql(`mutation { login(loginInput: { username: "${u}", password: "pass" }) { accessToken } }`);
	return { tenant: t, token: r.data.login.accessToken };
}

// A reportReady subscription of one user: readyAt maps report id → arrival.
function subscribe(user) {
	const readyAt = new Map();
	const client = createClient({ url: WS, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false,
		connectionParams: { Authorization: `Bearer ${user.token}` } });
	const acked = new Promise((res, rej) => {
		client.on('connected', res);
		client.on('closed', e => rej(new Error(`subscription closed: ${e?.code} ${e?.reason}`)));
	});
	client.subscribe({ query: 'subscription { reportReady }' }, {
		next: v => { const id = v.data?.reportReady?.reportID; if (id != null && !readyAt.has(id)) readyAt.set(id, Date.now()); },
		error: e => console.error('subscription error', e), complete: () => {} });
	return { user, readyAt, acked, close: () => client.dispose() };
}

// Workers' and providers' log lines written since the marks of mark().
function logs() {
	const d = join(VAR, 'log'), out = {};
	for (const f of readdirSync(d)) if (/^(worker(-\d+)?|providers)\.log$/.test(f)) out[f] = readFileSync(join(d, f), 'utf8');
	return out;
}
const mark = () => Object.fromEntries(Object.entries(logs()).map(([f, s]) => [f, s.length]));
function since(m) {
	const lines = { worker: [], providers: [] };
	for (const [f, s] of Object.entries(logs()))
		lines[f.startsWith('providers') ? 'providers' : 'worker'].push(...s.slice(m[f] ?? 0).split('\n').filter(Boolean));
	return lines;
}
const q = (a, p) => a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN;
const fmt = a => `p50 ${q(a, 0.5)} / p99 ${q(a, 0.99)} / max ${a.at(-1)} ms`;

async function createFor(s, answers) {
	const r = await gql('mutation { createReport { reportID } }', { token: s.user.token });
	if (!r.data) throw new Error(JSON.stringify(r));
	answers.push({ s, id: r.data.createReport.reportID, at: Date.now() });
}

// All at once: perUser reports for each subscriber's user.
const burst = (subs, perUser) => async answers => {
	await Promise.all(subs.flatMap(s => Array.from({ length: perUser }, () => createFor(s, answers))));
};

// Every subscriber's user creates `rate` reports/s for `secs`; during it
// worker-2 gets SIGTERM at stopAt and is started again at startAt.
const restartStream = (subs, rate, secs, stopAt, startAt) => async answers => {
	const t0 = Date.now(), pending = [], timers = [];
	timers.push(setTimeout(() => {
		const pid = readFileSync(join(VAR, 'run', 'worker-2.pid'), 'utf8').trim();
		process.kill(+pid, 'SIGTERM');
	}, stopAt * 1000));
	timers.push(setTimeout(() => pending.push(stack(['start', 'worker'])), startAt * 1000));
	for (let k = 0; Date.now() - t0 < secs * 1000; k++) {
		for (const s of subs) pending.push(createFor(s, answers));
		await sleep(Math.max(0, t0 + (k + 1) * 1000 / rate - Date.now()));
	}
	await Promise.all(pending);
	timers.forEach(clearTimeout);
};

async function phase(title, subs, load) {
	const m = mark();
	const t0 = Date.now();
	const answers = [];	// { sub, id, at }
	await load(answers);
	const lastAnswer = Math.max(...answers.map(a => a.at));
	const deadline = Date.now() + 120000;
	while (answers.some(a => !a.s.readyAt.has(a.id)) && Date.now() < deadline) await sleep(20);
	const got = answers.filter(a => a.s.readyAt.has(a.id));
	const lat = got.map(a => a.s.readyAt.get(a.id) - a.at).sort((x, y) => x - y);
	const lastReady = Math.max(...got.map(a => a.s.readyAt.get(a.id)));
	await sleep(500);	// the last log lines
	const l = since(m);
	const want = new Set(answers.map(a => `${a.s.user.tenant}:${a.id}`));
	const lag = [], recon = new Set();
	for (const line of l.worker) {
		let x = /ev=job_enqueued job=(\S+).* lag_ms=(-?\d+)/.exec(line);
		if (x && want.has(x[1])) lag.push(+x[2]);
		x = /ev=reconcile_enqueued .*job=(\S+)/.exec(line);
		if (x && want.has(x[1])) recon.add(x[1]);
	}
	lag.sort((x, y) => x - y);
	const refused = l.providers.filter(x => /connection limit/i.test(x)).length;
	const busy = l.worker.filter(x => /ev=provider_polled .*status=busy/.test(x)).length;
	const broken = l.worker.filter(x => /ev=provider_polled .*status=error.*why=.*(refused|nothing|Recv failure|Send failure)/i.test(x)).length;
	console.log(`${title}`);
	console.log(`   submitted in ${lastAnswer - t0} ms; reportReady received for ${got.length} of ${answers.length}`);
	console.log(`   last reportReady ${lastReady - lastAnswer} ms after the last createReport answer`);
	console.log(`   createReport answer → its reportReady: ${fmt(lat)}`);
	console.log(`   Kafka intake lag (produced → in the queue): ${lag.length ? fmt(lag) : 'none logged'} (${lag.length} jobs, ${lag.filter(x => x > 1000).length} over 1 s)`);
	console.log(`   enqueued by the reconciler: ${recon.size}; provider connections refused ${refused}, closed without an answer ${broken}, answered "busy" (429/503) ${busy}`);
}

async function main() {
	const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-'));
	chmodSync(dir, 0o755);
	VAR = join(dir, 'var');
	const [http, pg, rd, kf, pv, rl, pool] = await freePorts(7);
	ENV = { ...process.env, VAR_DIR: VAR, HTTP_PORT: `${http}`, PG_PORT: `${pg}`, PG2_PORT: '', REDIS_PORT: `${rd}`,
		KAFKA_PORT: `${kf}`, PROVIDERS_PORT: `${pv}`, RELAY_PORT: `${rl}`, POOL_PORT: `${pool}`, ...FAST };
	for (const k of Object.keys(ENV))
		if (/^(MASTER_DATABASE_URL|REDIS_URL|KAFKA_BROKERS|PUBLIC_BASE_URL|SQL_DIR|FCGI_SOCKET|PROVIDERS_BASE_URL|WORKER_|QUEUE_MAX|RECONCILE_|PROVIDERS_MAX|TENANT_MAX)/.test(k))
			delete ENV[k];
	BASE = `http://127.0.0.1:${http}`;
	WS = `ws://127.0.0.1:${http}/graphql`;
	try {
		await stack(['up']);
		SECRETS = readEnvFile(join(VAR, 'secrets.env'));
		const users = [];
		for (let i = 0; i < 10; i++) users.push(await addUser(i));
		await stack(['down']);
		await stack(['up']);
		console.log(`pipeline benchmark: tools/stack.sh up as \`make up\` runs it, ${(await run('nproc')).stdout.trim()} CPUs; `
			+ Object.entries(FAST).map(([k, v]) => `${k}=${v}`).join(' '));
		const subs = users.map(subscribe);
		await Promise.all(subs.map(s => s.acked));
		await phase('0. the first report right after a fresh start (stack down, up)', subs.slice(0, 1), burst(subs.slice(0, 1), 1));
		await phase('1. 100 reports at once by one user (target: last reportReady <= 600 ms after the last answer)', subs.slice(0, 1), burst(subs.slice(0, 1), 100));
		await phase('2. 1,000 reports at once over 10 tenants (target <= 1,500 ms)', subs, burst(subs, 100));
		await phase('3. 50 reports/s over 10 tenants for 24 s, worker-2 stopped at 6 s and started at 12 s', subs, restartStream(subs, 5, 24, 6, 12));
		for (const s of subs) s.close();
	} finally {
		await stack(['down']).catch(() => {});
		if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
		else console.log(`kept ${dir}`);
	}
}

main().catch(e => { console.error(e); process.exit(1); });
