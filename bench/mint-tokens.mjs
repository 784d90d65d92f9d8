// Prints one access token per line for user 1 ("seed") of the tenants
// PREFIX-1 .. PREFIX-COUNT that `reportsvc-admin seed-tenants` made, signed
// like the service's own (HS256 with JWT_SECRET).  For benchmarks only.
//   node bench/mint-tokens.mjs PREFIX COUNT > tokens.txt   (JWT_SECRET in env)
import { createHmac } from 'node:crypto';

const [prefix, countArg] = process.argv.slice(2);
const count = Number(countArg);
const secret = process.env.JWT_SECRET;
if (!prefix || !(count > 0) || !secret) {
	console.error('usage: JWT_SECRET=... node mint-tokens.mjs PREFIX COUNT');
	process.exit(2);
}
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const header = b64({ alg: 'HS256', typ: 'JWT' });
const now = Math.floor(Date.now() / 1000);
const out = [];
for (let i = 1; i <= count; i++) {
	const payload = b64({ sub: '1', username: 'seed', tenantId: `${prefix}-${i}`,
		iat: now, exp: now + 6 * 3600 });
	const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
	out.push(`${header}.${payload}.${sig}`);
}
process.stdout.write(out.join('\n') + '\n');
