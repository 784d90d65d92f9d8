// Reports, request side: createReport, status/getReportUrl/reports,
// downloadReport and the signed download route, through nginx -> FastCGI ->
// the tenant databases and the Kafka stand-in.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY, code, createTenant, dataSource, gql, signUp, tokenFor } from './gql.mjs';
import { HTTP_BASE, eventually, stack } from './lib.mjs';

const PG = { host: '127.0.0.1', port: process.env.PG_PORT, user: process.env.PG_USER ?? 'postgres', password: process.env.PG_PASSWORD ?? 'postgres' };
const SFX = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const TA = `rep-a-${SFX}`, TB = `rep-b-${SFX}`;
const DBA = `repa_${SFX}`, DBB = `repb_${SFX}`;
const U = { a1: `rep-a1-${SFX}`, a2: `rep-a2-${SFX}`, b1: `rep-b1-${SFX}` };
const tok = {};

function psql(db, sql) {
	return execFileSync('psql', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', db, '-qtA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
		{ env: { ...process.env, PGPASSWORD: PG.password }, encoding: 'utf8' }).trim();
}

const REPORT = 'reportID status progress fileURL createdAt completedAt error providers { name status attempts error }';
const create = token => gql(`mutation { createReport { ${REPORT} } }`, { token });
const status = (token, id) => gql(`query($id: Int!) { status(id: $id) { ${REPORT} } }`, { token, variables: { id } });
const getUrl = (token, id) => gql(`query($id: Int!) { getReportUrl(id: $id) { ${REPORT} } }`, { token, variables: { id } });
const download = (token, id, format) => gql(`mutation($id: Int!, $f: ReportFormat) { downloadReport(id: $id, format: $f) { reportID format filename contentType content } }`,
	{ token, variables: format ? { id, f: format } : { id } });

function created(r) {
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.errors, undefined, r.text);
	return r.json.data.createReport;
}

// The messages of report.create as kcat sees them (all partitions).
function kafkaCreateEvents() {
	const out = execFileSync('kcat', ['-b', process.env.KAFKA_BROKERS, '-C', '-t', 'report.create', '-o', 'beginning', '-e', '-J', '-q'],
		{ encoding: 'utf8', timeout: 20000 });
	return out.split('\n').filter(Boolean).map(l => JSON.parse(l));
}

// path+query of a URL, fetched from the private stack's nginx.
const local = url => HTTP_BASE + new URL(url).pathname + new URL(url).search;

function signed(tenant, id, exp, format = 'csv', key = process.env.URL_SIGNING_KEY) {
	const sig = createHmac('sha256', key).update(`v1\n${tenant}\n${id}\n${format}\n${exp}`).digest('base64url');
	return `${HTTP_BASE}/reports/${tenant}/${id}.${format}?exp=${exp}&sig=${sig}`;
}

// A report of username inserted straight into tenant db (so that a running
// worker never works on it: announced and ready_announced are set), with
// the given files; its id.
function insertReport(db, username, status, files = {}) {
	const done = status === 'COMPLETED';
	const id = psql(db, `insert into reports (owner_id, status, progress, completed_at, announced, ready_announced)
		select id, '${status}', ${done ? 100 : 0}, ${done ? 'now()' : 'null'}, true, true from users where username = '${username}' returning id`);
	assert.match(id, /^\d+$/);
	for (const [format, content] of Object.entries(files)) {
		const hex = Buffer.from(content, 'utf8').toString('hex');
		const sha = createHash('sha256').update(content, 'utf8').digest('hex');
		psql(db, `insert into report_files (report_id, format, content, sha256) values (${Number(id)}, '${format}', '\\x${hex}'::bytea, '${sha}')`);
	}
	return Number(id);
}

// Right after createReport a running worker may already have started.
const OPEN = ['PENDING', 'IN_PROGRESS'];

before(async () => {
	for (const [t, db] of [[TA, DBA], [TB, DBB]]) {
		const r = await createTenant(t, dataSource(db), ADMIN_KEY);
		assert.equal(r.json?.errors, undefined, r.text);
	}
	for (const [u, t] of [[U.a1, TA], [U.a2, TA], [U.b1, TB]]) {
		const r = await signUp(t, u, 'pass', 'tax-999');
		assert.equal(r.json?.errors, undefined, r.text);
		tok[u] = await tokenFor(u, 'pass');
	}
});

test('the original steps 4-6, the row in the caller\'s tenant only, and the report.create event', async () => {
	let r = await gql('mutation CreateReport { createReport { status reportID progress } }', { token: tok[U.a1] });
	assert.deepEqual(r.json, { data: { createReport: { status: 'PENDING', reportID: 1, progress: 0 } } });
	r = await gql('query Status { status(id: 1) { status reportID fileURL progress } }', { token: tok[U.a1] });
	assert.equal(r.json.errors, undefined, r.text);
	assert.equal(r.json.data.status.reportID, 1);
	assert.ok(OPEN.includes(r.json.data.status.status) || r.json.data.status.fileURL, r.text);
	r = await gql('query GetReportUrl { getReportUrl(id: 1) { status reportID fileURL progress } }', { token: tok[U.a1] });
	assert.equal(r.json.errors, undefined, r.text);
	assert.equal(r.json.data.getReportUrl.reportID, 1);
	assert.deepEqual(Object.keys(r.json.data.getReportUrl), ['status', 'reportID', 'fileURL', 'progress']);

	// the full Report type
	r = await status(tok[U.a1], 1);
	const rep = r.json.data.status;
	assert.match(rep.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
	assert.ok(Math.abs(Date.parse(rep.createdAt) - Date.now()) < 60000, rep.createdAt);
	assert.equal(rep.createdAt, psql(DBA, `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') from reports where id = 1`),
		'createdAt is the stored time truncated to the millisecond');
	assert.deepEqual(rep.providers.map(p => p.name), ['credit-bureau', 'tax-authority', 'property-registry']);

	// the row, owned by the caller, announced, with its providers, in tenant A's database only
	const owner = psql(DBA, `select id from users where username = '${U.a1}'`);
	assert.equal(psql(DBA, 'select owner_id || \':\' || announced from reports where id = 1'), `${owner}:true`);
	assert.equal(psql(DBA, 'select string_agg(provider, \',\' order by provider) from report_providers where report_id = 1'),
		'credit-bureau,property-registry,tax-authority');
	assert.equal(psql(DBB, 'select count(*) from reports'), '0');
	assert.equal(psql(DBB, 'select count(*) from report_providers'), '0');
	assert.equal(psql('reports_master', 'select count(*) from information_schema.tables where table_name = \'reports\''), '0');

	// the event: key = tenant ID, exactly {tenantID, reportID}
	const ev = await eventually(() => kafkaCreateEvents().find(m => {
		try { return JSON.parse(m.payload).tenantID === TA; } catch { return false; }
	}), 15000, 'report.create event');
	assert.equal(ev.key, TA);
	assert.deepEqual(JSON.parse(ev.payload), { tenantID: TA, reportID: 1 });
	assert.deepEqual(Object.keys(JSON.parse(ev.payload)), ['tenantID', 'reportID']);
	assert.ok(!ev.payload.includes('tax-999') && !ev.payload.includes(U.a1), 'no personal data in the event');
});

test('createReport answers the full Report: PENDING, progress 0, every provider PENDING', async () => {
	const rep = created(await create(tok[U.a1]));
	assert.equal(rep.status, 'PENDING');
	assert.equal(rep.progress, 0);
	assert.equal(rep.fileURL, null);
	assert.equal(rep.completedAt, null);
	assert.equal(rep.error, null);
	assert.deepEqual(rep.providers, ['credit-bureau', 'tax-authority', 'property-registry']
		.map(name => ({ name, status: 'PENDING', attempts: 0, error: null })));
	assert.equal(rep.createdAt, psql(DBA, `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') from reports where id = ${rep.reportID}`));
});

test('report IDs collide across tenants; each user sees only their own reports', async () => {
	const b = created(await create(tok[U.b1]));
	assert.equal(b.reportID, 1, 'tenant B numbers its reports itself');
	const a = (await status(tok[U.a1], 1)).json.data.status;
	const bb = (await status(tok[U.b1], 1)).json.data.status;
	assert.notEqual(a.createdAt, bb.createdAt);
	assert.equal(bb.createdAt, b.createdAt);
	assert.equal(psql(DBB, 'select count(*) from reports'), '1');

	// another user of the same tenant, and ids that exist nowhere
	for (const [t, id] of [[tok[U.a2], 1], [tok[U.a1], 999], [tok[U.b1], 2]]) {
		let r = await status(t, id);
		assert.equal(code(r), 'NOT_FOUND', r.text);
		assert.equal(r.json.errors[0].message, 'report not found');
		assert.equal(r.json.data.status, null);
		r = await getUrl(t, id);
		assert.equal(code(r), 'NOT_FOUND', r.text);
		r = await download(t, id);
		assert.equal(code(r), 'NOT_FOUND', r.text);
	}
	const r = await gql('{ reports { reportID } }', { token: tok[U.a2] });
	assert.deepEqual(r.json, { data: { reports: [] } });
});

test('reports(first, after) pages through the caller\'s reports, newest first', async () => {
	const ids = [];
	for (let i = 0; i < 5; i++) ids.push(created(await create(tok[U.a2])).reportID);
	const newest = [...ids].reverse();
	const page = async (args) => {
		const r = await gql(`{ reports${args} { reportID status progress fileURL providers { name } } }`, { token: tok[U.a2] });
		assert.equal(r.json.errors, undefined, r.text);
		return r.json.data.reports;
	};
	let p = await page('');
	assert.deepEqual(p.map(x => x.reportID), newest, 'default page holds all five');
	assert.equal(p[0].providers.length, 3);
	p = await page('(first: 2)');
	assert.deepEqual(p.map(x => x.reportID), newest.slice(0, 2));
	p = await page(`(first: 2, after: ${p[1].reportID})`);
	assert.deepEqual(p.map(x => x.reportID), newest.slice(2, 4));
	p = await page(`(first: 2, after: ${p[1].reportID})`);
	assert.deepEqual(p.map(x => x.reportID), newest.slice(4));
	p = await page(`(first: 2, after: ${p[0].reportID})`);
	assert.deepEqual(p, []);
	p = await page('(first: 100)');
	assert.equal(p.length, 5);
	// a1's reports are not in a2's list
	const a1 = await gql('{ reports { reportID } }', { token: tok[U.a1] });
	assert.ok(a1.json.data.reports.every(x => !ids.includes(x.reportID)));

	for (const args of ['(first: 0)', '(first: -1)', '(first: 101)', '(after: 0)', '(after: -5)', '(after: 1000000001)']) {
		const r = await gql(`{ reports${args} { reportID } }`, { token: tok[U.a2] });
		assert.equal(code(r), 'BAD_USER_INPUT', `${args}: ${r.text}`);
	}
});

test('bad report IDs are BAD_USER_INPUT (or rejected by GraphQL before)', async () => {
	for (const id of [0, -1, -2147483648, 1000000001, 2147483647]) {
		for (const f of [status, getUrl, download]) {
			const r = await f(tok[U.a1], id);
			assert.equal(code(r), 'BAD_USER_INPUT', `${id}: ${r.text}`);
		}
	}
	let r = await gql('{ status(id: 2147483648) { reportID } }', { token: tok[U.a1] });
	assert.equal(code(r), 'GRAPHQL_VALIDATION_FAILED', r.text);
	r = await gql('{ status(id: "1") { reportID } }', { token: tok[U.a1] });
	assert.equal(code(r), 'GRAPHQL_VALIDATION_FAILED', r.text);
	r = await status(tok[U.a1], 3000000000);
	assert.equal(code(r), 'BAD_USER_INPUT', r.text);
	r = await status(tok[U.a1], 1.5);
	assert.equal(code(r), 'BAD_USER_INPUT', r.text);
	r = await download(tok[U.a1], 1, 'XML');
	assert.equal(code(r), 'BAD_USER_INPUT', r.text);
});

test('every report operation needs a valid token', async () => {
	const ops = [
		'mutation { createReport { reportID } }',
		'{ status(id: 1) { reportID } }',
		'{ getReportUrl(id: 1) { reportID } }',
		'{ reports { reportID } }',
		'mutation { downloadReport(id: 1) { content } }',
	];
	const countA1 = () => psql(DBA, `select count(*) from reports r join users u on u.id = r.owner_id where u.username = '${U.a1}'`);
	const before = countA1();
	for (const q of ops) {
		for (const token of [undefined, 'not-a-token', tok[U.a1].slice(0, -2) + 'xx']) {
			const r = await gql(q, { token });
			assert.equal(code(r), 'UNAUTHENTICATED', `${q} ${token}: ${r.text}`);
		}
	}
	assert.equal(countA1(), before, 'no report was created without a token');
});

test('a COMPLETED report downloads byte-identical through the mutation and the signed URL', async () => {
	for (const st of ['PENDING', 'IN_PROGRESS', 'FAILED']) {
		const open = insertReport(DBA, U.a1, st);
		const r = await download(tok[U.a1], open);
		assert.equal(code(r), 'CONFLICT', r.text);
		assert.equal(r.json.errors[0].message, 'report is not completed yet');
		assert.equal((await status(tok[U.a1], open)).json.data.status.fileURL, null);
	}

	const csv = 'provider,field,value\r\ncredit-bureau,score,"7,12"\r\ntax-authority,name,"Zoë ""Z"" Ñandú"\r\nproperty-registry,note,日本語 ✓\r\n';
	const json = JSON.stringify({ providers: { 'credit-bureau': { score: 712 } }, note: 'Zoë ✓' });
	const id = insertReport(DBA, U.a1, 'COMPLETED', { csv, json });

	let r = await status(tok[U.a1], id);
	const rep = r.json.data.status;
	assert.equal(rep.status, 'COMPLETED');
	assert.equal(rep.progress, 100);
	assert.match(rep.completedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
	assert.equal(rep.completedAt, psql(DBA, `select to_char(completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') from reports where id = ${id}`));
	const base = process.env.PUBLIC_BASE_URL;
	const urlRe = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/reports/${TA}/${id}\\.csv\\?exp=(\\d+)&sig=[A-Za-z0-9_-]{43}$`);
	const m = rep.fileURL.match(urlRe);
	assert.ok(m, rep.fileURL);
	const exp = Number(m[1]), now = Math.floor(Date.now() / 1000);
	assert.ok(exp > now + 3000 && exp <= now + 3700, `exp ${exp} is about an hour ahead`);
	r = await getUrl(tok[U.a1], id);
	assert.match(r.json.data.getReportUrl.fileURL, urlRe);

	r = await download(tok[U.a1], id);
	assert.deepEqual(r.json.data.downloadReport, { reportID: id, format: 'CSV', filename: `report-${id}.csv`, contentType: 'text/csv; charset=utf-8', content: csv });
	r = await download(tok[U.a1], id, 'JSON');
	assert.deepEqual(r.json.data.downloadReport, { reportID: id, format: 'JSON', filename: `report-${id}.json`, contentType: 'application/json', content: json });

	// the signed URL, without a token
	const sha = createHash('sha256').update(csv, 'utf8').digest('hex');
	let res = await fetch(local(rep.fileURL));
	const body = Buffer.from(await res.arrayBuffer());
	assert.equal(res.status, 200);
	assert.ok(body.equals(Buffer.from(csv, 'utf8')), 'byte-identical');
	assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
	assert.equal(res.headers.get('content-disposition'), `attachment; filename="report-${id}.csv"`);
	assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(csv)));
	assert.equal(res.headers.get('etag'), `"${sha}"`);

	for (const inm of [`"${sha}"`, `W/"${sha}"`, `"other", "${sha}"`, '*']) {
		res = await fetch(local(rep.fileURL), { headers: { 'if-none-match': inm } });
		assert.equal(res.status, 304, inm);
		assert.equal((await res.arrayBuffer()).byteLength, 0);
		assert.equal(res.headers.get('etag'), `"${sha}"`);
	}
	res = await fetch(local(rep.fileURL), { headers: { 'if-none-match': '"0000"' } });
	assert.equal(res.status, 200);
	assert.equal(await res.text(), csv);

	res = await fetch(local(rep.fileURL), { method: 'HEAD' });
	assert.equal(res.status, 200);
	assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(csv)));
	assert.equal(res.headers.get('etag'), `"${sha}"`);
	assert.equal((await res.arrayBuffer()).byteLength, 0);

	// the JSON file through a URL signed for it
	res = await fetch(signed(TA, id, now + 60, 'json'));
	assert.equal(res.status, 200);
	assert.equal(res.headers.get('content-type'), 'application/json');
	assert.equal(res.headers.get('content-disposition'), `attachment; filename="report-${id}.json"`);
	assert.equal(await res.text(), json);
});

test('the signed URL refuses tampering, expiry, other tenants and missing files', async () => {
	const id = insertReport(DBA, U.a1, 'COMPLETED', { csv: 'a,b\r\n1,2\r\n' });
	const url = local((await status(tok[U.a1], id)).json.data.status.fileURL);
	const now = Math.floor(Date.now() / 1000);
	const expect = async (u, st, c, init) => {
		const res = await fetch(u, init);
		const text = await res.text();
		assert.equal(res.status, st, `${u}: ${text}`);
		if (init?.method !== 'HEAD') {
			const j = JSON.parse(text);
			assert.equal(j.errors[0].extensions.code, c, text);
			assert.match(res.headers.get('content-type'), /^application\/json/);
		}
	};
	assert.equal((await fetch(url)).status, 200);
	const sig = new URL(url).searchParams.get('sig');
	const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
	await expect(url.replace(sig, flipped), 403, 'FORBIDDEN');
	await expect(url.replace(/sig=[^&]+/, 'sig='), 403, 'FORBIDDEN');
	await expect(url.replace(/&sig=[^&]+/, ''), 403, 'FORBIDDEN');
	await expect(url.replace(/exp=(\d+)/, (_, e) => `exp=${Number(e) + 1}`), 403, 'FORBIDDEN');
	await expect(url.replace(`/${id}.csv`, `/${id}.json`), 403, 'FORBIDDEN');
	await expect(url.replace(`/${id}.csv`, `/${id + 1}.csv`), 403, 'FORBIDDEN');
	// wrong tenant in the path: tenant B has a report with this id's number space too
	await expect(url.replace(`/reports/${TA}/`, `/reports/${TB}/`), 403, 'FORBIDDEN');
	await expect(`${HTTP_BASE}/reports/${TA}/${id}.csv`, 403, 'FORBIDDEN');
	await expect(`${HTTP_BASE}/reports/`, 403, 'FORBIDDEN');
	// signed with another key
	await expect(signed(TA, id, now + 60, 'csv', 'x'.repeat(64)), 403, 'FORBIDDEN');
	// correctly signed but expired
	await expect(signed(TA, id, now - 10), 410, 'FORBIDDEN');
	await expect(signed(TA, id, now - 10), 410, undefined, { method: 'HEAD' });
	// correctly signed, but nothing to serve
	await expect(signed(TA, 999999, now + 60), 404, 'NOT_FOUND');
	await expect(signed(`rep-none-${SFX}`, id, now + 60), 404, 'NOT_FOUND');
	await expect(signed(TA, id, now + 60, 'json'), 404, 'NOT_FOUND');
	const pending = insertReport(DBA, U.a1, 'PENDING');
	await expect(signed(TA, pending, now + 60), 404, 'NOT_FOUND');
	// only GET and HEAD
	await expect(url, 405, 'BAD_USER_INPUT', { method: 'POST', body: '' });
	// the tenant's other user may follow the link: the URL is the credential
	assert.equal((await fetch(url)).status, 200);
});

test('with Kafka down createReport still answers and the report stays unannounced', async () => {
	const log = join(process.env.VAR_DIR, 'log', 'cgi.log');
	await stack('stop', 'kafka');
	let rep;
	try {
		const t0 = Date.now();
		rep = created(await create(tok[U.b1]));
		assert.equal(rep.status, 'PENDING');
		assert.equal(rep.progress, 0);
		assert.ok(Date.now() - t0 < 15000, 'answered within the announce bound');
		assert.equal(psql(DBB, `select announced from reports where id = ${rep.reportID}`), 'f');
		const lines = readFileSync(log, 'utf8').split('\n');
		assert.ok(lines.some(l => l.includes('ev=report_not_announced') && l.includes(`tenant=${TB}`) && l.includes(`report=${rep.reportID}`)),
			'ev=report_not_announced is logged with tenant and report');
	} finally {
		await stack('start', 'kafka');
	}
	// still readable, and once Kafka is back new reports are announced again
	const r = await status(tok[U.b1], rep.reportID);
	assert.equal(r.json.data.status.reportID, rep.reportID);
	await eventually(async () => {
		const x = created(await create(tok[U.b1]));
		return psql(DBB, `select announced from reports where id = ${x.reportID}`) === 't';
	}, 60000, 'announced again after Kafka restarted');
});
