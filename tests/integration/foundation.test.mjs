// Foundation: the real path nginx -> FastCGI pool, /healthz with each
// dependency, limits answered by nginx, the stack script's behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, get, post, stack } from './lib.mjs';

test('healthz reports every dependency healthy', async () => {
	const r = await get('/healthz');
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.status, 'ok');
	for (const dep of ['master_db', 'redis', 'kafka'])
		assert.equal(r.json.checks[dep].ok, true, `${dep}: ${r.text}`);
});

test('POST /graphql answers { __typename }', async () => {
	const r = await post('/graphql', { query: '{ __typename }' });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { data: { __typename: 'Query' } });
});

test('a body over the limit gets 413 with a JSON error from nginx', async () => {
	const big = JSON.stringify({ query: '{ __typename }', pad: 'x'.repeat(2 * 1024 * 1024) });
	const r = await post('/graphql', big);
	assert.equal(r.status, 413);
	assert.equal(r.json.errors[0].extensions.code, 'BAD_USER_INPUT');
});

test('an unknown path is a JSON 404', async () => {
	const r = await get('/nope');
	assert.equal(r.status, 404);
	assert.equal(r.json.errors[0].extensions.code, 'NOT_FOUND');
});

test('a second up reports the stack already running', async () => {
	const { stdout } = await stack('up');
	for (const c of ['pg', 'redis', 'kafka', 'cgi', 'nginx'])
		assert.match(stdout, new RegExp(`^${c} already running`, 'm'));
});

test('healthz is 503 while redis is down and recovers after', async () => {
	await stack('stop', 'redis');
	try {
		const r = await eventually(async () => {
			const x = await get('/healthz');
			return x.status === 503 ? x : null;
		}, 10000, 'healthz 503');
		assert.equal(r.json.checks.redis.ok, false);
		assert.equal(r.json.checks.master_db.ok, true);
		assert.equal(typeof r.json.checks.redis.error, 'string');
	} finally {
		await stack('start', 'redis');
	}
	await eventually(async () => (await get('/healthz')).status === 200, 20000, 'healthz 200');
});

test('healthz is 503 while the Kafka stand-in is down and recovers after', async () => {
	await stack('stop', 'kafka');
	try {
		const r = await eventually(async () => {
			const x = await get('/healthz');
			return x.status === 503 ? x : null;
		}, 15000, 'healthz 503');
		assert.equal(r.json.checks.kafka.ok, false);
	} finally {
		await stack('start', 'kafka');
	}
	await eventually(async () => (await get('/healthz')).status === 200, 30000, 'healthz 200');
});

test('a killed FastCGI worker is replaced and requests keep working', async () => {
	const { readFileSync } = await import('node:fs');
	const master = readFileSync(join(process.env.VAR_DIR, 'run', 'cgi.pid'), 'utf8').trim();
	const kids = spawnSync('pgrep', ['-P', master], { encoding: 'utf8' }).stdout.trim().split('\n');
	assert.ok(kids.length >= 1 && kids[0] !== '', 'the pool has workers');
	process.kill(Number(kids[0]), 'SIGKILL');
	await eventually(() => {
		const now = spawnSync('pgrep', ['-P', master], { encoding: 'utf8' }).stdout.trim().split('\n');
		return now.length === kids.length && !now.includes(kids[0]);
	}, 10000, 'worker respawned');
	for (let i = 0; i < 20; i++) {
		const r = await post('/graphql', { query: '{ __typename }' });
		assert.equal(r.status, 200);
	}
});

function runCgi(env) {
	return spawnSync(join(process.env.BIN_DIR, 'graphql-fcgi'), [], {
		encoding: 'utf8', timeout: 10000,
		env: { PATH: process.env.PATH, ASAN_OPTIONS: process.env.ASAN_OPTIONS, ...env },
	});
}

test('a bad configuration value stops the program with one line naming it', () => {
	const secrets = ['JWT_SECRET', 'DATA_KEY', 'ADMIN_KEY', 'URL_SIGNING_KEY'];
	const base = { MASTER_DATABASE_URL: process.env.MASTER_DATABASE_URL, FCGI_SOCKET: '/tmp/x.sock' };
	for (const k of secrets) base[k] = process.env[k];
	const cases = [
		[{ ...base, FCGI_WORKERS: 'abc' }, /FCGI_WORKERS must be an integer/],
		[{ ...base, FCGI_WORKERS: '0' }, /FCGI_WORKERS must be between 1 and 256/],
		[{ ...base, LOG_LEVEL: 'loud' }, /LOG_LEVEL must be debug, info, warn or error/],
		[{ ...base, MASTER_DATABASE_URL: undefined }, /MASTER_DATABASE_URL is required/],
		[{ ...base, JWT_SECRET: 'short' }, /JWT_SECRET is too short/],
		[{ ...base, DATA_KEY: 'z'.repeat(64) }, /DATA_KEY, DATA_KEY_ID or DATA_KEYS_OLD is invalid/],
	];
	for (const [env, re] of cases) {
		const r = runCgi(env);
		assert.equal(r.status, 2, `exit status for ${JSON.stringify(env)}: ${r.stderr}`);
		assert.match(r.stderr, re);
		assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
		assert.ok(!r.stderr.includes('postgres:postgres'), 'secrets are never printed');
		for (const k of secrets)
			assert.ok(!process.env[k] || !r.stderr.includes(process.env[k]), `${k} is never printed`);
	}
});

test('up with a taken port names the port and the variable to change', () => {
	const dir = mkdtempSync(join(tmpdir(), 'stack-port-'));
	try {
		const r = spawnSync(process.env.STACK, ['up'], {
			encoding: 'utf8', timeout: 60000,
			env: { ...process.env, VAR_DIR: dir, PG_PORT: process.env.REDIS_PORT },
		});
		assert.notEqual(r.status, 0);
		assert.match(r.stderr, new RegExp(`port ${process.env.REDIS_PORT} is already in use; set PG_PORT`));
	} finally {
		spawnSync(process.env.STACK, ['down'], { env: { ...process.env, VAR_DIR: dir } });
		rmSync(dir, { recursive: true, force: true });
	}
});
