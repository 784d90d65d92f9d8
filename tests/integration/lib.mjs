// Helpers shared by the integration tests: the private stack's addresses
// come from the environment tools/run-tests.sh exports.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

export const HTTP_BASE = process.env.HTTP_BASE ?? 'http://127.0.0.1:3000';
export const STACK = process.env.STACK;
export const REPO = process.env.REPO;
const run = promisify(execFile);

export async function stack(...args) {
	return run(STACK, args, { env: process.env });
}

export async function post(path, body, headers = {}) {
	const res = await fetch(HTTP_BASE + path, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...headers },
		body: typeof body === 'string' ? body : JSON.stringify(body),
	});
	const text = await res.text();
	let json;
	try { json = JSON.parse(text); } catch { json = undefined; }
	return { status: res.status, headers: res.headers, text, json };
}

export async function get(path, headers = {}) {
	const res = await fetch(HTTP_BASE + path, { headers });
	const text = await res.text();
	let json;
	try { json = JSON.parse(text); } catch { json = undefined; }
	return { status: res.status, headers: res.headers, text, json };
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls fn every pollMs until it returns a truthy value (exceptions count as
// "not yet"); throws after ms, with the last exception if there was one.
export async function waitFor(what, fn, ms = 10000, pollMs = 50) {
	const deadline = Date.now() + ms;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
			last = v;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last?.stack ?? JSON.stringify(last)}`);
		await sleep(pollMs);
	}
}

// waitFor() with the argument order of the older suites.
export const eventually = (fn, timeoutMs = 15000, what = 'condition') =>
	waitFor(what, fn, timeoutMs, 100);

// n loopback ports free right now (all held at once, so they differ).
export async function freePorts(n) {
	const servers = [], ports = [];
	for (let i = 0; i < n; i++) {
		const s = net.createServer();
		await new Promise((res, rej) => { s.once('error', rej); s.listen(0, '127.0.0.1', res); });
		servers.push(s);
		ports.push(s.address().port);
	}
	await Promise.all(servers.map(s => new Promise(r => s.close(r))));
	return ports;
}

export const freePort = async () => (await freePorts(1))[0];

// NAME=value lines of an env file (tools/stack.sh's stack.env, secrets.env).
export function readEnvFile(f) {
	const out = {};
	for (const line of readFileSync(f, 'utf8').split('\n')) {
		const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
		if (m) out[m[1]] = m[2];
	}
	return out;
}
