// GraphQL over HTTP through nginx -> graphql-fcgi: content negotiation,
// GET/POST rules, malformed requests, CORS, null omission, limits.  Every
// client mistake gets a 4xx (or a 200 with errors), never a 5xx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClientSchema, getIntrospectionQuery, printSchema } from '../graphql/node_modules/graphql/index.mjs';
import { HTTP_BASE } from './lib.mjs';

async function req(method, { path = '/graphql', query = '', body, headers = {} } = {}) {
	const res = await fetch(HTTP_BASE + path + query, { method, headers, body });
	const text = await res.text();
	let json;
	try { json = JSON.parse(text); } catch { json = undefined; }
	assert.ok(res.status < 500, `${method} ${path}${query} answered ${res.status}: ${text}`);
	return { status: res.status, headers: res.headers, text, json };
}
const JSON_CT = { 'content-type': 'application/json' };
const GQL_ACCEPT = { accept: 'application/graphql-response+json' };
const post = (body, headers = {}) => req('POST', { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { ...JSON_CT, ...headers } });
const code = r => r.json?.errors?.[0]?.extensions?.code;

test('POST application/json executes and answers application/json', async () => {
	const r = await post({ query: '{ __typename }' });
	assert.equal(r.status, 200);
	assert.match(r.headers.get('content-type'), /^application\/json/);
	assert.deepEqual(r.json, { data: { __typename: 'Query' } });
});

test('graphql-response+json: request errors are 4xx without data', async () => {
	let r = await post({ query: '{ nope }' }, GQL_ACCEPT);
	assert.equal(r.status, 400);
	assert.match(r.headers.get('content-type'), /^application\/graphql-response\+json/);
	assert.equal(code(r), 'GRAPHQL_VALIDATION_FAILED');
	assert.equal('data' in r.json, false);
	assert.deepEqual(r.json.errors[0].locations, [{ line: 1, column: 3 }]);
	r = await post({ query: '{ __typename' }, GQL_ACCEPT);
	assert.equal(r.status, 400);
	assert.equal(code(r), 'GRAPHQL_PARSE_FAILED');
	r = await post({ query: '{ __typename }' }, GQL_ACCEPT);
	assert.equal(r.status, 200);
	assert.deepEqual(r.json, { data: { __typename: 'Query' } });
});

test('application/json: request errors are 200 with errors', async () => {
	const r = await post({ query: '{ nope }' }, { accept: 'application/json' });
	assert.equal(r.status, 200);
	assert.equal(code(r), 'GRAPHQL_VALIDATION_FAILED');
	assert.equal('data' in r.json, false);
});

test('an Accept without a supported type is 406', async () => {
	const r = await post({ query: '{ __typename }' }, { accept: 'text/html' });
	assert.equal(r.status, 406);
	assert.equal(code(r), 'BAD_USER_INPUT');
	const any = await post({ query: '{ __typename }' }, { accept: 'text/html, */*;q=0.1' });
	assert.equal(any.status, 200);
});

test('GET serves queries and refuses mutations with 405', async () => {
	let r = await req('GET', { query: '?query=' + encodeURIComponent('query Q($n: String!) { __type(name: $n) { name } }') +
		'&variables=' + encodeURIComponent('{"n":"Report"}') + '&operationName=Q' });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { data: { __type: { name: 'Report' } } });
	r = await req('GET', { query: '?query=' + encodeURIComponent('mutation { createReport { reportID } }') });
	assert.equal(r.status, 405);
	assert.equal(r.headers.get('allow'), 'POST');
	r = await req('GET', { query: '' });
	assert.equal(r.status, 400);
	r = await req('GET', { query: '?query=%zz' });
	assert.equal(r.status, 400);
	r = await req('GET', { query: '?query=%7B__typename%7D&variables=%5B1%5D' });
	assert.equal(r.status, 400);
});

test('malformed requests get 4xx with a JSON error body', async () => {
	const cases = [
		['not json', '{"query":', 400],
		['array body', '[1]', 400],
		['no query', '{}', 400],
		['query not a string', '{"query":1}', 400],
		['variables not an object', '{"query":"{ __typename }","variables":[1]}', 400],
		['operationName not a string', '{"query":"{ __typename }","operationName":5}', 400],
		['extensions not an object', '{"query":"{ __typename }","extensions":"x"}', 400],
		['trailing garbage', '{"query":"{ __typename }"} x', 400],
		['deep JSON', '{"query":"{ __typename }","variables":{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}}', 400],
	];
	for (const [what, body, status] of cases) {
		const r = await post(body);
		assert.equal(r.status, status, `${what}: ${r.text}`);
		assert.equal(code(r), 'BAD_USER_INPUT', what);
		assert.equal(typeof r.json.errors[0].message, 'string', what);
	}
	let r = await req('POST', { body: '{"query":"{ __typename }"}', headers: { 'content-type': 'text/plain' } });
	assert.equal(r.status, 415);
	r = await req('PUT', { body: '{}', headers: JSON_CT });
	assert.equal(r.status, 405);
	assert.match(r.headers.get('allow'), /POST/);
});

test('variables are coerced; bad ones are request errors', async () => {
	const q = 'query Q($id: Int!) { status(id: $id) { reportID } }';
	let r = await post({ query: q, variables: { id: 'x' } }, GQL_ACCEPT);
	assert.equal(r.status, 400);
	assert.equal(code(r), 'BAD_USER_INPUT');
	r = await post({ query: q, variables: {} }, GQL_ACCEPT);
	assert.equal(r.status, 400);
	r = await post({ query: q, variables: { id: 1 } });
	// valid request; the resolver refuses an anonymous caller
	assert.equal(r.status, 200);
	assert.equal(code(r), 'UNAUTHENTICATED');
	assert.deepEqual(r.json.errors[0].path, ['status']);
	assert.equal(r.json.data.status, null);
});

test('operationName selects the operation', async () => {
	const doc = 'query A { a: __typename } query B { b: __typename }';
	let r = await post({ query: doc, operationName: 'B' });
	assert.deepEqual(r.json, { data: { b: 'Query' } });
	r = await post({ query: doc }, GQL_ACCEPT);
	assert.equal(r.status, 400);
	r = await post({ query: doc, operationName: 'C' }, GQL_ACCEPT);
	assert.equal(r.status, 400);
});

test('subscriptions over HTTP point to the WebSocket', async () => {
	const r = await post({ query: 'subscription { reportReady }' });
	assert.equal(r.status, 200);
	assert.match(r.json.errors[0].message, /WebSocket/);
});

test('X-Omit-Nulls drops null fields only when asked', async () => {
	const q = { query: '{ __type(name: "Nope") { name } t: __typename }' };
	let r = await post(q);
	assert.deepEqual(r.json, { data: { __type: null, t: 'Query' } });
	r = await post(q, { 'x-omit-nulls': '1' });
	assert.deepEqual(r.json, { data: { t: 'Query' } });
});

test('CORS for configured origins only', async () => {
	let r = await req('OPTIONS', { headers: { origin: 'https://allowed.example', 'access-control-request-method': 'POST' } });
	assert.equal(r.status, 204);
	assert.equal(r.headers.get('access-control-allow-origin'), 'https://allowed.example');
	assert.match(r.headers.get('access-control-allow-headers'), /Authorization/);
	r = await post({ query: '{ __typename }' }, { origin: 'https://allowed.example' });
	assert.equal(r.headers.get('access-control-allow-origin'), 'https://allowed.example');
	r = await post({ query: '{ __typename }' }, { origin: 'https://evil.example' });
	assert.equal(r.headers.get('access-control-allow-origin'), null);
});

test('introspection over HTTP builds a client schema with graphql-js', async () => {
	const r = await post({ query: getIntrospectionQuery() });
	assert.equal(r.status, 200);
	const schema = buildClientSchema(r.json.data);
	const sdl = printSchema(schema);
	for (const s of ['createReport: Report!', 'status(id: Int!): Report', 'reportReady: JSON!',
		'downloadReport(id: Int!, format: ReportFormat = CSV): ReportFile!', 'login(loginInput: LoginInput!): AuthPayload!'])
		assert.ok(sdl.includes(s), s);
});

test('hostile documents are refused cleanly', async () => {
	const deep = '{ ' + 'a { '.repeat(3000) + '}'.repeat(3001);
	const aliases = '{ ' + Array.from({ length: 500 }, (_, i) => `a${i}: __typename`).join(' ') + ' }';
	const big = '{ __typename ' + '#'.repeat(70000) + '\n}';
	const fragments = 'query { ...F0 } ' + Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { __typename ...F${i + 1} }`).join(' ') + ' fragment F30 on Query { __typename ...F0 }';
	for (const [what, q, want] of [['deep', deep, 'GRAPHQL_PARSE_FAILED'], ['aliases', aliases, 'GRAPHQL_VALIDATION_FAILED'],
		['big', big, 'GRAPHQL_PARSE_FAILED'], ['fragment cycle', fragments, 'GRAPHQL_VALIDATION_FAILED']]) {
		const r = await post({ query: q }, GQL_ACCEPT);
		assert.equal(r.status, 400, `${what}: ${r.text.slice(0, 300)}`);
		assert.equal(code(r), want, what);
	}
	// invalid UTF-8 and NUL inside the JSON body
	const bad = Buffer.concat([Buffer.from('{"query":"{ __typename }","x":"'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('"}')]);
	const r = await req('POST', { body: bad, headers: JSON_CT });
	assert.ok(r.status === 400 || r.status === 200, r.text);
	// the pool is still healthy
	assert.equal((await post({ query: '{ __typename }' })).status, 200);
});
