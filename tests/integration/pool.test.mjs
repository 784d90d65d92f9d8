// Tenant scale: every tenant database is reached through PgBouncer under one
// global cap on server connections (POOL_MAX_SERVER_CONNS, 50 in the test
// stack).  More tenants than the cap are served correctly and at once, the
// PostgreSQL backends of tenant databases never exceed the cap (sampled from
// pg_stat_activity all along), the worker stays under it too, and a tenant
// whose database password changes keeps working once the registry has the
// new one (PgBouncer gets it from the registry sync).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { ADMIN_KEY, code, createTenant, dataSource, gql, signUp, tokenFor } from './gql.mjs';
import { STACK, sleep, waitFor } from './lib.mjs';

const PG = { host: '127.0.0.1', port: process.env.PG_PORT, user: process.env.PG_USER ?? 'postgres',
	password: process.env.PG_PASSWORD ?? 'postgres' };
const CAP = Number(process.env.POOL_MAX_SERVER_CONNS);
const MASTER = process.env.MASTER_DB ?? 'reports_master';
const SFX = `${process.pid.toString(36)}${Date.now().toString(36)}`.replace(/[^a-z0-9]/g, '');
const PREFIX = `cap${SFX}`;
const TENANTS = 300;

function psql(db, sql) {
	return execFileSync('psql', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', db, '-qtA',
		'-v', 'ON_ERROR_STOP=1', '-c', sql], { env: { ...process.env, PGPASSWORD: PG.password }, encoding: 'utf8' }).trim();
}

function admin(args, input) {
	return execFileSync(STACK, ['admin', ...args], { env: process.env, input, encoding: 'utf8' });
}

// Backends of tenant databases: client backends not in the master, the
// maintenance database or a seeding template.
const BACKENDS_SQL = `select count(*) from pg_stat_activity where backend_type = 'client backend'
	and datname not in ('postgres', '${MASTER}') and datname not like '%\\_template'`;

// Samples the backend count every 50 ms in a child shell until stop().
function sampler() {
	const script = `while :; do psql -h ${PG.host} -p ${PG.port} -U ${PG.user} -d postgres -qtA -c "${BACKENDS_SQL.replace(/\n/g, ' ')}" || exit 1; sleep 0.05; done`;
	const child = spawn('bash', ['-c', script], { env: { ...process.env, PGPASSWORD: PG.password } });
	const counts = [];
	let buf = '';
	child.stdout.on('data', d => {
		buf += d;
		const lines = buf.split('\n');
		buf = lines.pop();
		for (const l of lines) if (/^\d+$/.test(l.trim())) counts.push(Number(l));
	});
	return {
		stop: async () => {
			child.kill('SIGTERM');
			await new Promise(r => child.once('exit', r));
			return counts;
		},
	};
}

// A token of seeded user 1 of tenant t, signed like the service's.
function seedToken(t) {
	const b64 = o => Buffer.from(JSON.stringify(o)).toString('base64url');
	const now = Math.floor(Date.now() / 1000);
	const h = b64({ alg: 'HS256', typ: 'JWT' });
	const p = b64({ sub: '1', username: 'seed', tenantId: t, iat: now, exp: now + 3600 });
	const s = createHmac('sha256', process.env.JWT_SECRET).update(`${h}.${p}`).digest('base64url');
	return `${h}.${p}.${s}`;
}

// Runs fn over items, at most n at once; returns the results in order.
async function pool(items, n, fn) {
	const out = new Array(items.length);
	let next = 0;
	await Promise.all(Array.from({ length: n }, async () => {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	}));
	return out;
}

const tenants = Array.from({ length: TENANTS }, (_, i) => `${PREFIX}-${i + 1}`);

before(() => {
	assert.ok(CAP > 0 && CAP < TENANTS / 2, `the test stack's cap (${CAP}) must be well under ${TENANTS}`);
	const out = admin(['seed-tenants', PREFIX, String(TENANTS), '4', '--host', PG.host, '--port', String(PG.port),
		'--user', PG.user], `${PG.password}\n`);
	assert.match(out, new RegExp(`${TENANTS} tenants registered`));
});

after(() => {
	// Out of the registry (and PgBouncer), so that later suites' reconciler
	// runs do not walk them; the databases go with the test stack.
	psql(MASTER, `delete from tenants where tenant_id like '${PREFIX}-%'`);
	admin(['pool-sync']);
});

test(`${TENANTS} tenants under a cap of ${CAP}: every answer right, backends never above the cap`, async () => {
	const s = sampler();
	const order = [...tenants, ...tenants, ...tenants].sort(() => Math.random() - 0.5);
	const res = await pool(order, 32, t => gql('{ status(id: 1) { reportID status progress } }', { token: seedToken(t) }));
	const counts = await s.stop();
	const bad = res.filter(r => r.status !== 200 || r.json?.data?.status?.status !== 'COMPLETED');
	assert.equal(bad.length, 0, `failed answers: ${JSON.stringify(bad.slice(0, 3).map(r => r.json ?? r.text))}`);
	assert.ok(counts.length >= 5, `sampled the backends only ${counts.length} times`);
	const peak = Math.max(...counts);
	assert.ok(peak <= CAP, `peak ${peak} tenant-database backends > cap ${CAP}`);
	assert.ok(peak > 0, 'no backend was ever seen: the sampler does not measure anything');
	const stats = admin(['pool-stats']);
	const m = /reserved (\d+) .* evictions (\d+)/.exec(stats);
	assert.ok(m, stats);
	assert.ok(Number(m[1]) <= CAP, stats);
	assert.ok(Number(m[2]) > 0, `300 tenants under a cap of ${CAP} must have evicted some: ${stats}`);
});

test('a token of a tenant PgBouncer and the registry do not know is refused, not a hang or an internal error', async () => {
	const r = await gql('{ status(id: 1) { reportID } }', { token: seedToken(`${PREFIX}-nosuch`) });
	assert.equal(code(r), 'UNAUTHENTICATED', JSON.stringify(r.json));
	assert.match(r.json.errors[0].message, /tenant no longer exists/);
});

test('the worker finishes reports of many tenants under the cap', async () => {
	const some = tenants.slice(0, 80);
	const s = sampler();
	const made = await pool(some, 16, t => gql('mutation { createReport { reportID status } }', { token: seedToken(t) }));
	for (const r of made)
		assert.equal(r.json?.data?.createReport?.status, 'PENDING', JSON.stringify(r.json));
	await waitFor('every report completed', async () => {
		const st = await pool(some.map((t, i) => [t, made[i].json.data.createReport.reportID]), 16,
			([t, id]) => gql('query($id: Int!) { status(id: $id) { status } }', { token: seedToken(t), variables: { id } }));
		return st.every(r => r.json?.data?.status?.status === 'COMPLETED');
	}, 150000, 500);
	const counts = await s.stop();
	const peak = Math.max(...counts);
	assert.ok(peak <= CAP, `peak ${peak} tenant-database backends > cap ${CAP}`);
});

test('a changed tenant database password is picked up through the registry', async () => {
	const role = `pw_${SFX}`, db = `pwdb_${SFX}`, tid = `pw-${SFX}`, user = `pw-user-${SFX}`;
	// Passwords with what PgBouncer's file syntax treats specially.
	const pw1 = "it's a #;secret", pw2 = 'second "pass" ;# \\ end';
	const lit = v => `'${v.replace(/'/g, "''")}'`;
	psql('postgres', `create role "${role}" login createdb password ${lit(pw1)}`);
	const c = await createTenant(tid, dataSource(db, { username: role, password: pw1 }), ADMIN_KEY);
	assert.equal(c.json?.data?.createTenant?.tenantID, tid, JSON.stringify(c.json));
	assert.equal((await signUp(tid, user)).status, 200);
	const token = await tokenFor(user);
	const mk = await gql('mutation { createReport { reportID } }', { token });
	const id = mk.json?.data?.createReport?.reportID;
	assert.ok(id > 0, JSON.stringify(mk.json));
	const ask = () => gql('query($id: Int!) { status(id: $id) { reportID } }', { token, variables: { id } });
	assert.equal((await ask()).json?.data?.status?.reportID, id);

	// The role's password changes; PgBouncer's open server connections
	// are cut, so the next request needs a new login.
	psql('postgres', `alter role "${role}" password ${lit(pw2)}`);
	const cut = () => psql('postgres', `select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '${db}'`);
	cut();
	// With the old password in the registry, the login fails (cleanly).
	const failing = await waitFor('a refused login', async () => {
		cut();
		const r = await ask();
		return r.json?.errors ? r : false;
	}, 15000, 200);
	assert.notEqual(code(failing), undefined, JSON.stringify(failing.json));
	assert.equal(failing.json.data?.status ?? null, null);

	admin(['tenant-password', tid], `${pw2}\n`);
	await waitFor('the new password in use', async () => {
		const r = await ask();
		return r.json?.data?.status?.reportID === id;
	}, 15000, 200);
	psql('postgres', `select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '${db}'`);
	await sleep(50);
	assert.equal((await ask()).json?.data?.status?.reportID, id);
});
