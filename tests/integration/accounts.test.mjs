// Tenants, users and authentication through nginx -> FastCGI -> PostgreSQL:
// the original service's steps 1-3 exactly as its clients send them, and
// every way they can go wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { ADMIN_KEY, code, createTenant, dataSource, gql, login, signUp, tokenFor } from './gql.mjs';

const PG = { host: '127.0.0.1', user: process.env.PG_USER ?? 'postgres', password: process.env.PG_PASSWORD ?? 'postgres' };

function psql(port, db, sql) {
	return execFileSync('psql', ['-h', PG.host, '-p', String(port), '-U', PG.user, '-d', db, '-qtA', '-c', sql],
		{ env: { ...process.env, PGPASSWORD: PG.password }, encoding: 'utf8' }).trim();
}

const b64url = b => Buffer.from(b).toString('base64url');
function jwt(payload, { secret = process.env.JWT_SECRET, alg = 'HS256', sign = true } = {}) {
	const head = b64url(JSON.stringify({ alg, typ: 'JWT' }));
	const body = b64url(JSON.stringify(payload));
	if (!sign) return `${head}.${body}.`;
	const mac = createHmac(alg === 'HS512' ? 'sha512' : 'sha256', secret).update(`${head}.${body}`).digest('base64url');
	return `${head}.${body}.${mac}`;
}

test('the original walkthrough, steps 1-3, sent exactly as the original clients send them', async () => {
	const step1 = `mutation CreateTenant {
  createTenant(createTenantInput: {
    tenantID: "tenant-a", tenantName: "tenant-a",
    dataSource: { host: "127.0.0.1", username: "${PG.user}", password: "${PG.password}", port: "${process.env.PG_PORT}", db: "tenantA" }
  }) { tenantID tenantName dataSource }
}`;
	let r = await gql(step1, { adminKey: ADMIN_KEY });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.errors, undefined, r.text);
	assert.deepEqual(r.json.data.createTenant, {
		tenantID: 'tenant-a', tenantName: 'tenant-a',
		dataSource: { host: '127.0.0.1', port: String(process.env.PG_PORT), username: PG.user, db: 'tenantA' },
	});
	assert.ok(!r.text.includes(`"password"`), 'the database password is never returned');

	const step2 = `mutation SignUp {
  signUp(signUp: { tenantID: "tenant-a", username: "user-a", password: "pass", taxID: "tax-123" }) {
    tenantID username password taxID
  }
}`;
	r = await gql(step2);
	assert.deepEqual(r.json, { data: { signUp: { tenantID: 'tenant-a', username: 'user-a', password: null, taxID: 'tax-123' } } });

	const step3 = `mutation Login {
  login(loginInput: { username: "user-a", password: "pass", }) { accessToken userName taxID }
}`;
	r = await gql(step3);
	assert.equal(r.json.errors, undefined, r.text);
	const { accessToken, userName, taxID } = r.json.data.login;
	assert.equal(userName, 'user-a');
	assert.equal(taxID, 'tax-123');
	assert.match(accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);

	r = await gql('{ me { tenantID username taxID password } }', { token: accessToken });
	assert.deepEqual(r.json, { data: { me: { tenantID: 'tenant-a', username: 'user-a', taxID: 'tax-123', password: null } } });

	// the tenant's data is in its own physical database, not in the master
	assert.equal(psql(process.env.PG_PORT, 'tenantA', `select username || ':' || tax_id from users`), 'user-a:tax-123');
	assert.match(psql(process.env.PG_PORT, 'tenantA', `select password_hash from users`), /^\$2b\$10\$/);
	assert.equal(psql(process.env.PG_PORT, 'reports_master', `select count(*) from user_directory where username = 'user-a'`), '1');
	const stored = psql(process.env.PG_PORT, 'reports_master', `select db_password_enc from tenants where tenant_id = 'tenant-a'`);
	assert.ok(!stored.includes(PG.password) && stored.startsWith('v1:'), 'the password is encrypted at rest');
});

test('createTenant needs the admin key', async () => {
	let r = await createTenant('t-nokey', dataSource('tnokey'), null);
	assert.equal(code(r), 'UNAUTHENTICATED', r.text);
	r = await createTenant('t-badkey', dataSource('tbadkey'), 'wrong-key');
	assert.equal(code(r), 'FORBIDDEN', r.text);
	assert.equal(r.json.data, null);
});

test('createTenant validates every field and leaves nothing half-registered', async () => {
	const cases = [
		['bad id', dataSource('x1'), 'BAD_USER_INPUT'],
		['t-db', dataSource('bad db'), 'BAD_USER_INPUT'],
		['t-port', { ...dataSource('x2'), port: 'abc' }, 'BAD_USER_INPUT'],
		['t-port2', { ...dataSource('x3'), port: '70000' }, 'BAD_USER_INPUT'],
		['t-host', { ...dataSource('x4'), host: '10.1.2.3' }, 'BAD_USER_INPUT'],
		['t-down', { ...dataSource('x5'), port: process.env.SPARE_PORT }, 'BAD_USER_INPUT'],
		['t-pw', { ...dataSource('x6'), password: 'wrong-password' }, 'BAD_USER_INPUT'],
	];
	for (const [id, ds, want] of cases) {
		const r = await createTenant(id, ds);
		assert.equal(code(r), want, `${id}: ${r.text}`);
		assert.ok(!r.text.includes('wrong-password'), 'never echoes a password');
	}
	const down = await createTenant('t-down2', { ...dataSource('x7'), port: process.env.SPARE_PORT });
	assert.match(down.json.errors[0].message, new RegExp(`127\\.0\\.0\\.1:${process.env.SPARE_PORT}`));
	const n = psql(process.env.PG_PORT, 'reports_master', `select count(*) from tenants where tenant_id like 't-%'`);
	assert.equal(n, '0');
});

test('a duplicate tenant is CONFLICT', async () => {
	let r = await createTenant('tenant-dup', dataSource('tenantDup'));
	assert.equal(r.json.errors, undefined, r.text);
	r = await createTenant('tenant-dup', dataSource('tenantDup2'));
	assert.equal(code(r), 'CONFLICT', r.text);
});

test('a tenant on a second PostgreSQL server keeps its users there', async () => {
	let r = await createTenant('tenant-b', dataSource('tenantB', { port: process.env.PG2_PORT }));
	assert.equal(r.json.errors, undefined, r.text);
	r = await signUp('tenant-b', 'user-b', 'secret-b', 'tax-b');
	assert.equal(r.json.errors, undefined, r.text);
	assert.equal(psql(process.env.PG2_PORT, 'tenantB', `select username from users`), 'user-b');
	assert.equal(psql(process.env.PG_PORT, 'postgres', `select count(*) from pg_database where datname = 'tenantB'`), '0');
	const token = await tokenFor('user-b', 'secret-b');
	r = await gql('{ me { tenantID username } }', { token });
	assert.deepEqual(r.json.data.me, { tenantID: 'tenant-b', username: 'user-b' });
});

test('sign-up errors: unknown tenant, taken name, bad values', async () => {
	await createTenant('tenant-c', dataSource('tenantC'));
	assert.equal(code(await signUp('no-such-tenant', 'user-x')), 'NOT_FOUND');
	assert.equal((await signUp('tenant-c', 'user-c')).json.errors, undefined);
	assert.equal(code(await signUp('tenant-c', 'user-c')), 'CONFLICT');
	// usernames are unique across tenants
	assert.equal(code(await signUp('tenant-a', 'user-c')), 'CONFLICT');
	assert.equal(code(await signUp('tenant-c', 'bad name')), 'BAD_USER_INPUT');
	assert.equal(code(await signUp('tenant-c', 'user-d', 'abc')), 'BAD_USER_INPUT');
	assert.equal(code(await signUp('tenant-c', 'user-e', 'pass', "x'); DROP TABLE users;--")), 'BAD_USER_INPUT');
	assert.equal(code(await signUp('tenant-c', 'user-f', 'x'.repeat(73))), 'BAD_USER_INPUT');
});

test('strings are stored and returned verbatim', async () => {
	const name = 'josé.ñandú@例え';
	const tax = '12.345/678-9';
	const pw = `p'w"; select 1;-- ✓`;
	let r = await signUp('tenant-c', name, pw, tax);
	assert.equal(r.json.errors, undefined, r.text);
	const token = await tokenFor(name, pw);
	r = await gql('{ me { username taxID } }', { token });
	assert.deepEqual(r.json.data.me, { username: name, taxID: tax });
});

test('50 concurrent sign-ups of one name: exactly one wins', async () => {
	const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
		signUp(i % 2 ? 'tenant-a' : 'tenant-c', 'racer', 'pass', `tax-${i}`)));
	const ok = results.filter(r => r.json?.data?.signUp);
	const conflicts = results.filter(r => code(r) === 'CONFLICT');
	assert.equal(ok.length, 1, results.map(r => r.text).join('\n'));
	assert.equal(conflicts.length, 49);
	const dir = psql(process.env.PG_PORT, 'reports_master', `select count(*) from user_directory where username = 'racer'`);
	const inA = psql(process.env.PG_PORT, 'tenantA', `select count(*) from users where username = 'racer'`);
	const inC = psql(process.env.PG_PORT, 'tenantC', `select count(*) from users where username = 'racer'`);
	assert.equal(dir, '1');
	assert.equal(Number(inA) + Number(inC), 1);
});

test('login: wrong password and unknown user get the same answer', async () => {
	const wrong = await login('user-a', 'nope');
	const unknown = await login('nobody-at-all', 'nope');
	assert.equal(code(wrong), 'UNAUTHENTICATED');
	assert.equal(code(unknown), 'UNAUTHENTICATED');
	assert.equal(wrong.json.errors[0].message, unknown.json.errors[0].message);
});

test('bad tokens are refused', async () => {
	const good = await tokenFor('user-a');
	const claims = JSON.parse(Buffer.from(good.split('.')[1], 'base64url'));
	const now = Math.floor(Date.now() / 1000);
	const bad = {
		'no token': null,
		'garbage': 'not-a-token',
		'tampered payload': (() => { const p = good.split('.'); p[1] = b64url(JSON.stringify({ ...claims, tenantId: 'tenant-b' })); return p.join('.'); })(),
		'expired': jwt({ ...claims, iat: now - 7200, exp: now - 3600 }),
		'alg none': jwt({ ...claims, exp: now + 3600 }, { alg: 'none', sign: false }),
		'HS512': jwt({ ...claims, exp: now + 3600 }, { alg: 'HS512' }),
		'wrong secret': jwt({ ...claims, exp: now + 3600 }, { secret: 'x'.repeat(40) }),
		'not yet valid': jwt({ ...claims, nbf: now + 3600, exp: now + 7200 }),
		'unknown tenant': jwt({ ...claims, tenantId: 'ghost', exp: now + 3600 }),
	};
	for (const [what, token] of Object.entries(bad)) {
		const r = await gql('{ me { username } }', { token });
		assert.equal(code(r), 'UNAUTHENTICATED', `${what}: ${r.text}`);
		assert.equal(r.json.data.me, null, what);
	}
	const r = await gql('{ me { username } }', { token: good });
	assert.equal(r.json.data.me.username, 'user-a');
});

test('a terminated tenant backend is replaced without a failed request', async () => {
	const token = await tokenFor('user-a');
	for (let round = 0; round < 3; round++) {
		// warm every worker's cache, then kill every backend of the tenant database
		for (let i = 0; i < 8; i++)
			assert.equal((await gql('{ me { username } }', { token })).json.data.me.username, 'user-a');
		psql(process.env.PG_PORT, 'postgres', `select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = 'tenantA'`);
		for (let i = 0; i < 8; i++) {
			const r = await gql('{ me { username } }', { token });
			assert.equal(r.json.errors, undefined, `round ${round}: ${r.text}`);
		}
	}
});

test('the admin command migrates the master and every tenant database', async () => {
	const { stack } = await import('./lib.mjs');
	const { stdout } = await stack('admin', 'migrate');
	assert.match(stdout, /^master: \d+ migration\(s\) applied$/m);
	assert.match(stdout, /^tenants: migrations applied to \d+ database\(s\); all are current$/m);
	// every registered tenant database is at the newest version there is
	const { readdirSync } = await import('node:fs');
	const newest = Math.max(...readdirSync(`${process.env.REPO}/sql/tenant`)
		.filter(f => /^\d+_.*\.sql$/.test(f)).map(f => parseInt(f, 10)));
	for (const [port, db] of [[process.env.PG_PORT, 'tenantA'], [process.env.PG2_PORT, 'tenantB']])
		assert.equal(psql(port, db, 'select max(version) from schema_migrations'), String(newest));
});
