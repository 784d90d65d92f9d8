// Sends status(id: 1) once for every token of a file (32 at a time) and
// prints how long that took: the first touch of each tenant, which opens its
// PostgreSQL backend behind PgBouncer.  For bench/tenants.sh.
//   node bench/warm-tenants.mjs URL TOKENS-FILE
import { readFileSync } from 'node:fs';

const [url, file] = process.argv.slice(2);
const tokens = readFileSync(file, 'utf8').split('\n').filter(Boolean);
const body = JSON.stringify({ query: '{ status(id: 1) { status } }' });
let next = 0, bad = 0;
const t0 = Date.now();
await Promise.all(Array.from({ length: 32 }, async () => {
	while (next < tokens.length) {
		const tok = tokens[next++];
		const r = await fetch(url, { method: 'POST', body,
			headers: { 'content-type': 'application/json', authorization: `Bearer ${tok}` } });
		const t = await r.text();
		if (r.status !== 200 || !t.includes('COMPLETED')) bad++;
	}
}));
const s = (Date.now() - t0) / 1000;
console.log(`${tokens.length} tenants touched once in ${s.toFixed(1)} s ` +
	`(${(tokens.length / s).toFixed(0)} tenants/s), ${bad} errors`);
