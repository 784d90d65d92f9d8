// The report pipeline on the stack as shipped: tools/stack.sh up with
// `make up`'s settings (two workers, the mock providers with their default
// limits, the Kafka stand-in, the relay, nginx), only the polling made fast.
// Its OWN stack, so its figures are not disturbed by the other suites'
// settings and its logs hold only its own reports.
//
//   - the first report after the workers start is taken in from Kafka (not
//     by the reconciler) within a second: the workers are ready only once
//     they hold their partitions;
//   - 100 reports at once by one user all reach the user's reportReady
//     subscription, every job came in through Kafka, and no provider
//     connection was refused, closed unanswered or answered "busy".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts, readEnvFile, sleep } from './lib.mjs';

const require = createRequire(import.meta.url);
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const run = promisify(execFile);
const REPO = process.env.REPO ?? process.cwd();
const STACK = process.env.STACK ?? join(REPO, 'tools/stack.sh');
const BIN_DIR = process.env.BIN_DIR ?? join(REPO, 'bin');
const TENANT = 'pipe-a', USER = 'pipe-user';

let ENV, VAR, BASE, WS, token;
const stack = args => run(STACK, args, { env: ENV, cwd: REPO });
const logText = name => { try { return readFileSync(join(VAR, 'log', name), 'utf8'); } catch { return ''; } };
const workerLogs = () => logText('worker.log') + logText('worker-2.log');

async function gql(query, { variables, headers = {} } = {}) {
	const h = { 'content-type': 'application/json', ...headers };
	if (token) h.authorization = `Bearer ${token}`;
	const res = await fetch(BASE + '/graphql', { method: 'POST', headers: h, body: JSON.stringify({ query, variables }) });
	return res.json();
}

async function createReport() {
	const r = await gql('mutation { createReport { reportID } }');
	assert.equal(r.errors, undefined, JSON.stringify(r.errors));
	return r.data.createReport.reportID;
}

// The user's reportReady subscription: ids received.
function subscribe() {
	const ready = new Set();
	const client = createClient({ url: WS, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false,
		connectionParams: { Authorization: `Bearer ${token}` } });
	const acked = new Promise((res, rej) => {
		client.on('connected', res);
		client.on('closed', e => rej(new Error(`subscription closed: ${e?.code}`)));
	});
	client.subscribe({ query: 'subscription { reportReady }' }, {
		next: v => ready.add(v.data?.reportReady?.reportID), error: () => {}, complete: () => {} });
	return { ready, acked, close: () => client.dispose() };
}

async function until(what, fn, ms = 60000) {
	const end = Date.now() + ms;
	while (!fn()) {
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await sleep(50);
	}
}

// job_enqueued lines of the workers (the Kafka intake), by job id.
function enqueued() {
	const out = new Map();
	for (const m of workerLogs().matchAll(/ev=job_enqueued job=(\S+)(?: lag_ms=(-?\d+))?/g))
		out.set(m[1], m[2] === undefined ? null : +m[2]);
	return out;
}

before(async () => {
	const dir = mkdtempSync(join(tmpdir(), 'pipe-test-'));
	chmodSync(dir, 0o755);
	VAR = join(dir, 'var');
	const [http, pg, rd, kf, pv, rl, pl] = await freePorts(7);
	ENV = { ...process.env, VAR_DIR: VAR, BIN_DIR, HTTP_PORT: `${http}`, PG_PORT: `${pg}`, PG2_PORT: '',
		REDIS_PORT: `${rd}`, KAFKA_PORT: `${kf}`, PROVIDERS_PORT: `${pv}`, RELAY_PORT: `${rl}`, POOL_PORT: `${pl}`,
		// `make up`'s settings but for these (and PostgreSQL's fsync).
		QUEUE_POLL_INTERVAL_MS: '200', PROVIDER_LATENCY_MS: '0', PROVIDER_RETRY_AFTER_SEC: '0', PG_FSYNC: 'off',
		LOG_LEVEL: 'info' };
	for (const k of Object.keys(ENV))
		if (/^(MASTER_DATABASE_URL|REDIS_URL|KAFKA_BROKERS|PUBLIC_BASE_URL|SQL_DIR|FCGI_|PROVIDERS_(BASE_URL|MAX)|POOL_(HOST|DATABASES|STATE|PASSWORD|MAX|TENANT)|PG_MAX|WORKER_|RECONCILE_|QUEUE_(MAX|LEASE)|TENANT_MAX)/.test(k))
			delete ENV[k];
	await stack(['up']);
	const secrets = readEnvFile(join(VAR, 'secrets.env'));
	BASE = `http://127.0.0.1:${http}`;
	WS = `ws://127.0.0.1:${http}/graphql`;
	let r = await gql('mutation($i: CreateTenantInput!) { createTenant(createTenantInput: $i) { tenantID } }', {
		variables: { i: { tenantID: TENANT, tenantName: TENANT, dataSource: { host: '127.0.0.1',
			username: process.env.PG_USER ?? 'postgres', password: process.env.PG_PASSWORD ?? 'postgres', port: `${pg}`, db: 'pipe_a' } } },
		headers: { 'x-admin-key': secrets.ADMIN_KEY } });
	assert.equal(r.errors, undefined, JSON.stringify(r.errors));
	r = await gql('mutation($s: SignUpInput!) { signUp(signUp: $s) { username } }',
		{ variables: { s: { tenantID: TENANT, username: USER, password: 'pass', taxID: '123.456.789-00' } } });
	assert.equal(r.errors, undefined, JSON.stringify(r.errors));
	r = await gql(`mutation { login(loginInput: { username: "${USER}", password: "pass" }) { accessToken } }`);
	token = r.data.login.accessToken;
});

after(async () => {
	if (!ENV) return;
	await stack(['down']);
	assert.doesNotMatch(workerLogs() + logText('providers.log'), /AddressSanitizer|runtime error:|LeakSanitizer/);
	if (!process.env.TEST_KEEP) rmSync(join(VAR, '..'), { recursive: true, force: true });
});

test('the first report after the workers start is taken in from Kafka within a second', async () => {
	await stack(['stop', 'worker']);
	await stack(['start', 'worker']);	// returns once both hold partitions
	const sub = subscribe();
	await sub.acked;
	const id = await createReport();
	const job = `${TENANT}:${id}`;
	await until(`${job} taken in`, () => enqueued().has(job), 30000);
	const lag = enqueued().get(job);
	assert.ok(lag !== null && lag < 1000, `report.create → queue took ${lag} ms`);
	await until(`reportReady for ${id}`, () => sub.ready.has(id));
	assert.doesNotMatch(workerLogs(), new RegExp(`ev=reconcile_enqueued .*job=${job}\\b`));
	sub.close();
});

test('100 reports at once: all ready, all through Kafka, no provider connection refused or turned away', async () => {
	const sub = subscribe();
	await sub.acked;
	const ids = await Promise.all(Array.from({ length: 100 }, createReport));
	await until('100 reportReady events', () => ids.every(id => sub.ready.has(id)), 120000);
	sub.close();
	const jobs = enqueued();
	const missing = ids.filter(id => !jobs.has(`${TENANT}:${id}`));
	assert.deepEqual(missing, [], 'every job was enqueued by the Kafka intake');
	assert.doesNotMatch(workerLogs(), /ev=reconcile_enqueued/, 'the reconciler had nothing to do');
	const refused = (logText('providers.log').match(/connection limit/g) ?? []).length;
	const unanswered = (workerLogs().match(/ev=provider_polled .*status=error.*why=.*(refused|nothing|Recv failure|Send failure)/gi) ?? []).length;
	const busy = (workerLogs().match(/ev=provider_polled .*status=busy/g) ?? []).length;
	assert.deepEqual({ refused, unanswered, busy }, { refused: 0, unanswered: 0, busy: 0 });
	const failed = (workerLogs().match(/ev=provider_polled .*status=error/g) ?? []).length;
	assert.equal(failed, 0, 'no provider call failed at all on the default settings');
});
