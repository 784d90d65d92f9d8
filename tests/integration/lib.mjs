// Helpers shared by the integration tests: the private stack's addresses
// come from the environment tools/run-tests.sh exports.
import { execFile } from 'node:child_process';
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

// Polls fn until it returns a truthy value; throws after timeoutMs.
export async function eventually(fn, timeoutMs = 15000, what = 'condition') {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error(`${what} not met within ${timeoutMs} ms; last: ${last?.stack ?? JSON.stringify(last)}`);
		await new Promise(r => setTimeout(r, 100));
	}
}
