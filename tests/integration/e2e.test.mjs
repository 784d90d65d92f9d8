// The original service's whole walkthrough, end to end on the real stack:
// nginx, the FastCGI pool, PostgreSQL, Kafka stand-in, Redis, the worker,
// the mock providers and the WebSocket relay.  Nothing here produces events
// or touches a database by hand: the report is finished by the worker and
// announced by the relay, exactly as a client of the original would see it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { ADMIN_KEY, gql } from './gql.mjs';
import { HTTP_BASE, eventually } from './lib.mjs';

const RND = randomBytes(3).toString('hex');
const TENANT = `e2e-${RND}`, USER = `e2e-user-${RND}`;
const WS_URL = HTTP_BASE.replace(/^http/, 'ws') + '/graphql';

test('steps 1-7: tenant, user, login, createReport, status, URL, reportReady over WebSocket', { timeout: 120000 }, async () => {
	// 1-3, the original documents with this run's names
	let r = await gql(`mutation CreateTenant {
  createTenant(createTenantInput: {
    tenantID: "${TENANT}", tenantName: "${TENANT}",
    dataSource: { host: "127.0.0.1", username: "${process.env.PG_USER ?? 'postgres'}", password: "${process.env.PG_PASSWORD ?? 'postgres'}", port: "${process.env.PG_PORT}", db: "e2e_${RND}" }
  }) { tenantID tenantName dataSource }
}`, { adminKey: ADMIN_KEY });
	assert.equal(r.json.errors, undefined, r.text);
	r = await gql(`mutation SignUp {
  signUp(signUp: { tenantID: "${TENANT}", username: "${USER}", password: "pass", taxID: "tax-123" }) {
    tenantID username password taxID
  }
}`);
	assert.equal(r.json.errors, undefined, r.text);
	r = await gql(`mutation Login {
  login(loginInput: { username: "${USER}", password: "pass", }) { accessToken userName taxID }
}`);
	const token = r.json.data.login.accessToken;

	// 4. createReport answers at once
	r = await gql('mutation CreateReport { createReport { status reportID progress } }', { token });
	assert.deepEqual(r.json, { data: { createReport: { status: 'PENDING', reportID: 1, progress: 0 } } });

	// 7. the live notification (subscribed right away, as the original's client does)
	const client = createClient({ url: WS_URL, webSocketImpl: WebSocket, retryAttempts: 0,
		connectionParams: { Authorization: `Bearer ${token}` } });
	const ready = [], progress = [], errors = [];
	client.subscribe({ query: 'subscription { reportReady }' },
		{ next: v => ready.push(v), error: e => errors.push(e), complete: () => {} });
	client.subscribe({ query: 'subscription { reportProgress(id: 1) { reportID status progress providers { name status } } }' },
		{ next: v => progress.push(v), error: e => errors.push(e), complete: () => {} });
	try {
		// 5./6. status and getReportUrl while it runs
		r = await gql('query Status { status(id: 1) { status reportID fileURL progress } }', { token });
		assert.ok(['PENDING', 'IN_PROGRESS', 'COMPLETED'].includes(r.json.data.status.status), r.text);

		await eventually(() => ready.length > 0, 100000, 'reportReady from the worker through the relay');
		assert.deepEqual(errors, []);
		const note = ready[0].data.reportReady;
		assert.equal(note.reportID, 1);
		assert.equal(note.status, 'COMPLETED');
		assert.match(note.fileURL, new RegExp(`/reports/${TENANT}/1\\.csv\\?exp=\\d+&sig=`));

		const steps = progress.map(v => v.data.reportProgress.progress);
		assert.deepEqual([...steps].sort((a, b) => a - b), steps, `progress never decreases: ${steps}`);
		await eventually(() => progress.some(v => v.data.reportProgress.progress === 100), 10000, 'the last progress step');

		r = await gql('query GetReportUrl { getReportUrl(id: 1) { status reportID fileURL progress } }', { token });
		const rep = r.json.data.getReportUrl;
		assert.equal(rep.status, 'COMPLETED');
		assert.equal(rep.progress, 100);

		// the file through the signed URL (no token) and through the mutation
		const res = await fetch(rep.fileURL);
		assert.equal(res.status, 200);
		const csv = await res.text();
		r = await gql('mutation { downloadReport(id: 1, format: CSV) { filename contentType content } }', { token });
		assert.equal(r.json.data.downloadReport.content, csv);
		for (const provider of ['credit-bureau', 'tax-authority', 'property-registry'])
			assert.ok(csv.includes(provider), `${provider} in the CSV`);
		r = await gql('mutation { downloadReport(id: 1, format: JSON) { content } }', { token });
		const json = JSON.parse(r.json.data.downloadReport.content);
		assert.equal(typeof json, 'object');
	} finally {
		await client.dispose();
	}
});
