// Worker benchmark (bench/worker.sh runs it): prints figures, asserts nothing.
//
// A private stack (tools/stack.sh, own VAR_DIR and free ports) with 20
// tenants; the stack's own worker is stopped and the benchmark runs its
// worker process itself, with the settings of each phase, so that it can
// read that process's CPU time and memory from /proc:
//   A. 1,000 reports across 20 tenants, providers ready after 2 polls,
//      poll interval 100 ms: reports/s, worker CPU ms per report, peak RSS.
//   B. 100 reports submitted at once, 2 polls, interval 200 ms: time from
//      submission to the last report.ready; with 1 and 2 worker processes
//      (BENCH_B_WORKERS=1,2; `make up` runs WORKER_PROCESSES=2).
//   D. createReport at full speed for 30 s, with 1 and with 2 worker
//      processes (BENCH_D_WORKERS=1,2): every second, the queue backlog
//      (jobs due but not claimed) and the report.create events not yet
//      taken in from Kafka; when the last report completed.
//   C. 10,000 jobs in flight (providers hang, WORKER_CONCURRENCY=10000):
//      the worker's RSS.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts, readEnvFile, sleep } from '../tests/integration/lib.mjs';

const run = promisify(execFile);
const REPO = process.env.REPO ?? process.cwd();
const STACK = join(REPO, 'tools/stack.sh');
const BIN_DIR = process.env.BIN_DIR ?? join(REPO, 'bin');
const TENANTS = +(process.env.BENCH_TENANTS ?? 20);
const REPORTS = +(process.env.BENCH_REPORTS ?? 1000);
const INFLIGHT = +(process.env.BENCH_INFLIGHT ?? 10000);
const BACKLOG_SECS = +(process.env.BENCH_BACKLOG_SECS ?? 30);
const LATENCY = process.env.BENCH_PROVIDER_LATENCY_MS ?? '0';
const TICK = +execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
const PG = { user: process.env.PG_USER ?? 'postgres', password: process.env.PG_PASSWORD ?? 'postgres' };

let ENV, VAR, BASE, SECRETS, STACKENV;
const users = [];	// { tenant, db, token, uid }

const stack = (args, extra = {}) => run(STACK, args, { env: { ...ENV, ...extra }, cwd: REPO });
async function gql(query, { token, variables, headers = {} } = {}) {
	const h = { 'content-type': 'application/json', ...headers };
	if (token) h.authorization = `Bearer ${token}`;
	const res = await fetch(BASE + '/graphql', { method: 'POST', headers: h, body: JSON.stringify({ query, variables }) });
	return res.json();
}
function psql(db, sql) {
	return execFileSync('psql', ['-h', '127.0.0.1', '-p', ENV.PG_PORT, '-U', PG.user, '-d', db, '-qtA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
		{ env: { ...process.env, PGPASSWORD: PG.password }, encoding: 'utf8' }).trim();
}
const redis = (...a) => execFileSync('redis-cli', ['-p', ENV.REDIS_PORT, ...a], { encoding: 'utf8' }).trim();

function procStat(pid) {
	const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
	const cpu = (+rest[11] + +rest[12]) / TICK;	// utime + stime, seconds
	const st = readFileSync(`/proc/${pid}/status`, 'utf8');
	const kb = k => +(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0);
	return { cpu, rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

function startWorker(extra, name) {
	const env = { ...process.env, ...STACKENV, ...SECRETS, LOG_FILE: join(VAR, 'log', `${name}.log`), ...extra };
	const fd = openSync(join(VAR, 'log', `${name}.stderr`), 'a');
	const p = spawn(join(BIN_DIR, 'report-worker'), [], { env, stdio: ['ignore', fd, fd] });
	closeSync(fd);
	p.exited = new Promise(r => p.on('exit', (code, sig) => r({ code, sig })));
	spawned.add(p);
	p.exited.then(() => spawned.delete(p));
	return p;
}
const spawned = new Set();	// workers still running, killed on the way out
async function stopWorker(p) {
	const t0 = Date.now();
	p.kill('SIGTERM');
	const r = await p.exited;
	return { ...r, ms: Date.now() - t0 };
}

// Runs fn over items with at most n at once.
async function pool(items, n, fn) {
	let i = 0;
	await Promise.all(Array.from({ length: n }, async () => {
		while (i < items.length) await fn(items[i++]);
	}));
}
async function createReport(u) {
	const r = await gql('mutation { createReport { reportID } }', { token: u.token });
	if (!r.data) throw new Error(JSON.stringify(r));
	return r.data.createReport.reportID;
}
// Counts per status across all tenants for reports with id > base[tenant].
function counts(base) {
	let done = 0, failed = 0, maxDone = 0;
	for (const u of users) {
		const [d, f, m] = psql(u.db, `select count(*) filter (where status = 'COMPLETED'), count(*) filter (where status = 'FAILED'),`
			+ ` coalesce(floor(extract(epoch from max(completed_at)) * 1000), 0) from reports where id > ${base[u.tenant] ?? 0}`).split('|');
		done += +d; failed += +f; maxDone = Math.max(maxDone, +m);
	}
	return { done, failed, maxDone };
}
const maxIds = () => Object.fromEntries(users.map(u => [u.tenant, +psql(u.db, 'select coalesce(max(id), 0) from reports')]));
async function waitAll(base, n, ms) {
	const deadline = Date.now() + ms;
	for (;;) {
		const c = counts(base);
		if (c.done + c.failed >= n) return c;
		if (Date.now() > deadline) throw new Error(`only ${c.done + c.failed} of ${n} finished`);
		await sleep(200);
	}
}
async function waitWorkerReady(name) {
	for (let i = 0; i < 100; i++) {
		try { if (readFileSync(join(VAR, 'log', `${name}.log`), 'utf8').includes('ev=worker_started')) break; } catch { /* not yet */ }
		await sleep(100);
	}
	// One report per tenant end to end: the consumer has joined, the topics
	// and the tenant connections are warm.
	const base = maxIds();
	await Promise.all(users.map(createReport));
	await waitAll(base, users.length, 30000);
}

const base = { QUEUE_POLL_INTERVAL_MS: '100', TENANT_MAX_CONNS: '32', LOG_LEVEL: 'info' };

async function phaseA() {
	const w = startWorker(base, 'bench-a');
	await waitWorkerReady('bench-a');
	const b = maxIds();
	const s0 = procStat(w.pid);
	const t0 = Date.now();
	const jobs = Array.from({ length: REPORTS }, (_, i) => users[i % users.length]);
	await pool(jobs, 32, createReport);
	const submitted = Date.now() - t0;
	const c = await waitAll(b, REPORTS, 300000);
	const s1 = procStat(w.pid);
	const secs = (c.maxDone - t0) / 1000;
	const stop = await stopWorker(w);
	console.log(`A. ${REPORTS} reports, ${TENANTS} tenants, 2 polls, interval 100 ms, provider latency ${LATENCY} ms`);
	console.log(`   submitted in ${(submitted / 1000).toFixed(2)} s (createReport, 32 clients); last completed after ${secs.toFixed(2)} s`);
	console.log(`   completed ${c.done}, failed ${c.failed}: ${(REPORTS / secs).toFixed(0)} reports/s`);
	console.log(`   worker CPU ${(s1.cpu - s0.cpu).toFixed(2)} s = ${((s1.cpu - s0.cpu) * 1000 / REPORTS).toFixed(3)} ms per report (target <= 2 ms)`);
	console.log(`   worker peak RSS ${s1.hwm.toFixed(1)} MB; SIGTERM exit ${stop.code} in ${stop.ms} ms`);
}

async function phaseB(procs) {
	const names = Array.from({ length: procs }, (_, i) => `bench-b${procs}-${i + 1}`);
	const ws = names.map(n => startWorker({ ...base, WORKER_ID: n, QUEUE_POLL_INTERVAL_MS: '200' }, n));
	await waitWorkerReady(names[0]);
	const b = maxIds();
	const t0 = Date.now();
	const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => createReport(users[i % users.length])
		.then(id => ({ tenant: users[i % users.length].tenant, id, accepted: Date.now() }))));
	const acceptedAt = new Map(ids.map(x => [`${x.tenant}:${x.id}`, x.accepted]));
	const submitted = Date.now() - t0;
	await waitAll(b, 100, 60000);
	// report.ready's CreateTime of each of the 100, from Kafka.
	const want = new Set(ids.map(x => `${x.tenant}:${x.id}`));
	let ts = [];
	const readyAt = new Map();	// report → report.ready CreateTime (first)
	for (let i = 0; i < 50 && ts.length < 100; i++) {
		const out = execFileSync('kcat', ['-b', STACKENV.KAFKA_BROKERS, '-C', '-t', 'report.ready', '-o', 'beginning', '-e', '-J', '-q'],
			{ encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
		const seen = new Map();
		for (const l of out.split('\n').filter(Boolean)) {
			const m = JSON.parse(l);
			const p = JSON.parse(m.payload);
			const k = `${p.tenantID}:${p.reportID}`;
			if (want.has(k) && !seen.has(k)) seen.set(k, m.ts);
			if (want.has(k)) readyAt.set(k, Math.min(readyAt.get(k) ?? Infinity, m.ts));
		}
		ts = [...seen.values()].sort((a, b2) => a - b2);
		if (ts.length < 100) await sleep(200);
	}
	for (const w of ws) await stopWorker(w);
	const lat = ts.map(t => t - t0);
	// The worker's share: report.create taken in → report.ready confirmed.
	const at = l => Date.parse(/^ts=(\S+)/.exec(l)[1]);
	const enq = new Map(), rdy = new Map();
	for (const l of names.flatMap(n => readFileSync(join(VAR, 'log', `${n}.log`), 'utf8').split('\n'))) {
		let m = /ev=job_enqueued job=(\S+)/.exec(l);
		if (m && want.has(m[1])) enq.set(m[1], at(l));
		m = /ev=report_ready_announced tenant=(\S+) report=(\d+)/.exec(l);
		if (m && want.has(`${m[1]}:${m[2]}`)) rdy.set(`${m[1]}:${m[2]}`, at(l));
	}
	const share = [...want].filter(k => enq.has(k) && rdy.has(k)).map(k => rdy.get(k) - enq.get(k)).sort((a, b2) => a - b2);
	console.log(`B. 100 reports at once, 2 polls, interval 200 ms, provider latency ${LATENCY} ms, ${procs} worker process${procs > 1 ? 'es' : ''} (floor 0.4 s, target < 0.6 s)`);
	const own = [...readyAt].map(([k, t]) => t - acceptedAt.get(k)).sort((a, b2) => a - b2);
	console.log(`   submitted in ${submitted} ms; report.ready: first ${lat[0]} ms, median ${lat[49]} ms, last ${lat.at(-1)} ms after submission began (${ts.length} events)`);
	console.log(`   per report, createReport answered → its report.ready: median ${own[Math.floor(own.length / 2)]} ms, max ${own.at(-1)} ms`);
	console.log(`   worker's share, report.create taken in → report.ready confirmed: median ${share[Math.floor(share.length / 2)]} ms, max ${share.at(-1)} ms (${share.length} reports)`);
}

async function phaseD(procs) {
	// The worker must hold as many jobs as arrive during one job's life.
	const conc = process.env.BENCH_D_CONCURRENCY ?? '2000';
	const names = Array.from({ length: procs }, (_, i) => `bench-d${procs}-${i + 1}`);
	const ws = names.map(n => startWorker({ ...base, WORKER_ID: n, WORKER_CONCURRENCY: conc }, n));
	await waitWorkerReady(names[0]);
	const b = maxIds();
	const s0 = ws.map(w => procStat(w.pid));
	let made = 0, stop = false;
	const samples = [];
	// Jobs the workers took in from Kafka so far, from their logs (read
	// incrementally): made - taken is what waits in Kafka.
	const logs = names.map(n => ({ path: join(VAR, 'log', `${n}.log`), pos: 0, tail: '' }));
	for (const l of logs) l.pos = statSync(l.path).size;
	let taken = 0;
	const countTaken = () => {
		for (const l of logs) {
			const fd = openSync(l.path, 'r');
			const size = fstatSync(fd).size;
			const buf = Buffer.alloc(size - l.pos);
			readSync(fd, buf, 0, buf.length, l.pos);
			closeSync(fd);
			l.pos = size;
			const text = l.tail + buf.toString('utf8');
			const cut = text.lastIndexOf('\n') + 1;
			l.tail = text.slice(cut);
			taken += (text.slice(0, cut).match(/ ev=job_enqueued /g) ?? []).length;
		}
	};
	const sampler = (async () => {
		while (!stop) {
			await sleep(1000);
			const [sec, us] = redis('TIME').split('\n');
			const now = +sec * 1000 + Math.floor(+us / 1000);
			countTaken();
			samples.push({ due: +redis('ZCOUNT', 'rq:due', '-inf', `${now}`), delayed: +redis('ZCOUNT', 'rq:due', `(${now}`, '+inf'),
				active: +redis('ZCARD', 'rq:active'), kafka: made - taken });
		}
	})();
	const t0 = Date.now();
	await Promise.all(Array.from({ length: 32 }, async (_, c) => {
		for (let i = c; Date.now() - t0 < BACKLOG_SECS * 1000; i += 32) {
			await createReport(users[i % users.length]);
			made++;
		}
	}));
	stop = true;
	await sampler;
	const c = await waitAll(b, made, 300000);
	const s1 = ws.map(w => procStat(w.pid));
	for (const w of ws) await stopWorker(w);
	const cpu = s1.reduce((a, s, i) => a + s.cpu - s0[i].cpu, 0);
	const dues = samples.map(s => s.due), lag = samples.map(s => s.kafka);
	console.log(`D. createReport at full speed for ${BACKLOG_SECS} s (32 clients), ${procs} worker process${procs > 1 ? 'es' : ''}: ${made} reports, ${(made / BACKLOG_SECS).toFixed(0)}/s`);
	console.log(`   queue backlog (jobs due, not claimed) per second: ${dues.join(' ')}`);
	console.log(`   report.create not yet taken from Kafka per second: ${lag.join(' ')}`);
	console.log(`   max ${Math.max(...dues)} due / ${Math.max(...lag)} in Kafka; in flight (active) max ${Math.max(...samples.map(s => s.active))}; delayed (waiting for next poll) max ${Math.max(...samples.map(s => s.delayed))}`);
	console.log(`   all ${c.done} completed (${c.failed} failed) ${((c.maxDone - t0) / 1000).toFixed(1)} s after the start (load ran ${BACKLOG_SECS} s); worker CPU ${(cpu * 1000 / made).toFixed(3)} ms per report`);
}

async function phaseC() {
	// Providers that hang: every attempt stays in flight.
	await stack(['stop', 'providers']);
	await stack(['start', 'providers'], { PROVIDER_LATENCY_MS: '120000' });
	const per = Math.ceil(INFLIGHT / users.length);
	for (const u of users)
		psql(u.db, `with r as (insert into reports (owner_id, announced) select ${u.uid}, true from generate_series(1, ${per}) returning id)`
			+ ` insert into report_providers (report_id, provider) select r.id, p from r, unnest(array['credit-bureau','tax-authority','property-registry']) p`);
	const w = startWorker({ ...base, WORKER_CONCURRENCY: `${INFLIGHT}`, RECONCILE_INTERVAL_MS: '500', RECONCILE_GRACE_MS: '0',
		RECONCILE_BATCH: `${per}`, QUEUE_LEASE_MS: '60000', WORKER_SHUTDOWN_MS: '1000' }, 'bench-c');
	const t0 = Date.now();
	let held = 0, s;
	for (let i = 0; i < 600; i++) {
		await sleep(500);
		held = +redis('ZCARD', 'rq:active');
		if (held >= per * users.length) break;
	}
	const reached = Date.now() - t0;
	await sleep(2000);	// a few loop turns with everything held
	s = procStat(w.pid);
	const stop = await stopWorker(w);
	console.log(`C. ${held} jobs in flight (held under lease, providers hanging, WORKER_HTTP_MAX 256) after ${(reached / 1000).toFixed(1)} s`);
	console.log(`   worker RSS ${s.rss.toFixed(1)} MB, peak ${s.hwm.toFixed(1)} MB (target <= 50 MB); SIGTERM exit ${stop.code} in ${stop.ms} ms`);
}

async function main() {
	const dir = mkdtempSync(join(tmpdir(), 'wk-bench-'));
	chmodSync(dir, 0o755);
	VAR = join(dir, 'var');
	const [http, pg, rd, kf, pv, rl, pl] = await freePorts(7);
	ENV = { ...process.env, VAR_DIR: VAR, BIN_DIR, HTTP_PORT: `${http}`, PG_PORT: `${pg}`, PG2_PORT: '', REDIS_PORT: `${rd}`,
		KAFKA_PORT: `${kf}`, PROVIDERS_PORT: `${pv}`, RELAY_PORT: `${rl}`, POOL_PORT: `${pl}`, FCGI_WORKERS: '8', PG_FSYNC: 'off',
		PROVIDER_POLLS: '2', PROVIDER_RETRY_AFTER_SEC: '0', PROVIDER_LATENCY_MS: LATENCY, TENANT_MAX_CONNS: '32',
		QUEUE_POLL_INTERVAL_MS: '100', RECONCILE_INTERVAL_MS: '30000', LOG_LEVEL: 'warn' };
	for (const k of ['MASTER_DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'PUBLIC_BASE_URL', 'SQL_DIR', 'FCGI_SOCKET', 'PROVIDERS_BASE_URL'])
		delete ENV[k];
	try {
		await stack(['up']);
		await stack(['stop', 'worker']);
		STACKENV = readEnvFile(join(VAR, 'stack.env'));
		SECRETS = readEnvFile(join(VAR, 'secrets.env'));
		BASE = `http://127.0.0.1:${http}`;
		for (let i = 0; i < TENANTS; i++) {
			const t = `bench-${i}`, db = `bench_${i}`;
			let r = await gql('mutation($i: CreateTenantInput!) { createTenant(createTenantInput: $i) { tenantID } }', {
				variables: { i: { tenantID: t, tenantName: t, dataSource: { host: '127.0.0.1', username: PG.user, password: PG.password, port: `${pg}`, db } } },
				headers: { 'x-admin-key': SECRETS.ADMIN_KEY } });
			if (r.errors) throw new Error(JSON.stringify(r.errors));
			await gql('mutation($s: SignUpInput!) { signUp(signUp: $s) { username } }', { variables: { s: { tenantID: t, username: `bench-user-${i}`, password: 'pass', taxID: `${100 + i}.000.000-00` } } });
			r = await gql(`mutation { login(loginInput: { username: "bench-user-${i}", password: "pass" }) { accessToken } }`);
			users.push({ tenant: t, db, token: r.data.login.accessToken, uid: +psql(db, `select id from users where username = 'bench-user-${i}'`) });
		}
		// A running service has its tenant connections open in every
		// FastCGI process; a cold pool would put ~160 connection set-ups
		// (SCRAM) into the first phase's submission time.
		const warm = Array.from({ length: 40 * users.length }, (_, i) => users[i % users.length]);
		await pool(warm, 16, async u => { const r = await gql('{ me { username } }', { token: u.token }); if (!r.data) throw new Error(JSON.stringify(r)); });
		console.log(`worker benchmark: ${BIN_DIR}/report-worker, ${TENANTS} tenants, ${(await run('nproc')).stdout.trim()} CPUs; FastCGI pool warmed (${warm.length} \`me\` queries)`);
		const phases = (process.env.BENCH_PHASES ?? 'A,B,D,C').split(',');
		const procs = (v, d) => (process.env[v] ?? d).split(',').map(Number);
		const runB = async () => { for (const n of procs('BENCH_B_WORKERS', '1,2')) await phaseB(n); };
		const runD = async () => { for (const n of procs('BENCH_D_WORKERS', '1,2')) await phaseD(n); };
		for (const [name, fn] of [['A', phaseA], ['B', runB], ['D', runD], ['C', phaseC]])
			if (phases.includes(name)) await fn();
	} finally {
		for (const p of spawned) p.kill('SIGKILL');
		await stack(['down']).catch(() => {});
		if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
		else console.log(`kept ${dir}`);
	}
}

main().catch(e => { console.error(e); process.exit(1); });
