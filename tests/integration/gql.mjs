// A GraphQL client for the tests: POST /graphql and return {status, json}.
import { post } from './lib.mjs';

export async function gql(query, { variables, token, adminKey, headers = {} } = {}) {
	const h = { ...headers };
	if (token) h.authorization = `Bearer ${token}`;
	if (adminKey) h['x-admin-key'] = adminKey;
	const body = { query };
	if (variables) body.variables = variables;
	return post('/graphql', body, h);
}

// The first error's code, or undefined.
export const code = r => r.json?.errors?.[0]?.extensions?.code;

export const ADMIN_KEY = process.env.ADMIN_KEY;

export function dataSource(db, { port = process.env.PG_PORT, host = '127.0.0.1',
	username = process.env.PG_USER ?? 'postgres', password = process.env.PG_PASSWORD ?? 'postgres' } = {}) {
	return { host, username, password, port: String(port), db };
}

export async function createTenant(tenantID, ds, adminKey = ADMIN_KEY) {
	return gql(`mutation($i: CreateTenantInput!) { createTenant(createTenantInput: $i) { tenantID tenantName dataSource } }`,
		{ variables: { i: { tenantID, tenantName: tenantID, dataSource: ds } }, adminKey });
}

export async function signUp(tenantID, username, password = 'pass', taxID = 'tax-123') {
	return gql(`mutation($s: SignUpInput!) { signUp(signUp: $s) { tenantID username taxID password } }`,
		{ variables: { s: { tenantID, username, password, taxID } } });
}

export async function login(username, password = 'pass') {
	const r = await gql(`mutation($l: LoginInput!) { login(loginInput: $l) { accessToken userName taxID expiresAt } }`,
		{ variables: { l: { username, password } } });
	return r;
}

export async function tokenFor(username, password = 'pass') {
	const r = await login(username, password);
	if (!r.json?.data?.login) throw new Error(`login ${username}: ${r.text}`);
	return r.json.data.login.accessToken;
}
