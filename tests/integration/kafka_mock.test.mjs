// Integration test of tools/kafka-mock (the Kafka stand-in) as a process.
//
// Starts a PRIVATE kafka-mock (KAFKA_MOCK_BIN, else $BIN_DIR/kafka-mock, else
// bin/kafka-mock) on a free port it picks itself,
// in a temp dir, and checks with kcat: the bootstrap file appears, metadata
// shows report.create/progress/ready with 3 partitions each, a message
// produced is consumed back, SIGTERM exits 0 and removes the file, a restart
// comes back on the same port, and a second instance on a taken port exits 1
// naming KAFKA_MOCK_PORT.
//
// Run: KAFKA_MOCK_BIN=build/release/bin/kafka-mock node --test tests/integration/kafka_mock.test.mjs
// Needs kcat on PATH.  No npm dependencies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, waitFor as waitUntil } from './lib.mjs';

const BIN = process.env.KAFKA_MOCK_BIN ??
	join(process.env.BIN_DIR ?? fileURLToPath(new URL('../../bin', import.meta.url)), 'kafka-mock');
const POLL_MS = 50;
const WAIT_MS = 10000;
const waitFor = (what, fn) => waitUntil(what, fn, WAIT_MS, POLL_MS);
const TOPICS = ['report.create', 'report.progress', 'report.ready'];
const PARTITIONS = 3;

const children = new Set();
let dir;

after(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});


async function exists(p) {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}



function run(cmd, args, { input, timeout = WAIT_MS } = {}) {
  return new Promise((res, rej) => {
    const p = execFile(cmd, args, { timeout, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\nstderr: ${stderr}`;
        rej(err);
      } else {
        res(stdout);
      }
    });
    if (input !== undefined) p.stdin.end(input);
  });
}

// Starts kafka-mock; resolves to {child, exited, log()} without waiting for readiness.
function startMock(port, bootstrapFile) {
  const child = spawn(resolve(BIN), [], {
    env: {
      ...process.env,
      KAFKA_MOCK_PORT: String(port),
      KAFKA_MOCK_BOOTSTRAP_FILE: bootstrapFile,
      LOG_FILE: '',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  return { child, exited, log: () => log };
}

async function waitReady(mock, bootstrapFile) {
  const text = await waitFor('bootstrap file', async () => {
    if (mock.child.exitCode !== null) throw new Error(`kafka-mock exited: ${mock.log()}`);
    return (await exists(bootstrapFile)) ? readFile(bootstrapFile, 'utf8') : null;
  });
  return text;
}

async function metadata(brokers) {
  return JSON.parse(await run('kcat', ['-b', brokers, '-L', '-J', '-m', '5']));
}

// The exit of mock, or {code: 'timeout'} after WAIT_MS (timer cleared, so
// it does not keep the test process alive).
async function exitWithin(mock) {
  let timer;
  const deadline = new Promise((res) => {
    timer = setTimeout(() => res({ code: 'timeout' }), WAIT_MS);
  });
  try {
    return await Promise.race([mock.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function stop(mock) {
  mock.child.kill('SIGTERM');
  return exitWithin(mock);
}

test('kafka-mock: topics, produce/consume, SIGTERM, restart on the same port', async () => {
  dir = await mkdtemp(join(tmpdir(), 'kafka-mock-test-'));
  const bootstrapFile = join(dir, 'bootstrap');
  const port = await freePort();
  const brokers = `127.0.0.1:${port}`;

  let mock = startMock(port, bootstrapFile);
  try {
    assert.equal(await waitReady(mock, bootstrapFile), `${brokers}\n`);

    const md = await metadata(brokers);
    assert.deepEqual(md.brokers.map((b) => b.name), [brokers]);
    for (const t of TOPICS) {
      const topic = md.topics.find((x) => x.topic === t);
      assert.ok(topic, `topic ${t} missing`);
      assert.equal(topic.partitions.length, PARTITIONS, `partitions of ${t}`);
    }

    // A second instance on the same port fails clearly.
    const dup = startMock(port, join(dir, 'bootstrap-dup'));
    const dupExit = await exitWithin(dup);
    assert.equal(dupExit.code, 1, dup.log());
    assert.match(dup.log(), /KAFKA_MOCK_PORT/);
    assert.equal(await exists(join(dir, 'bootstrap-dup')), false);

    const key = `k-${process.pid}`;
    const value = `hello-${Date.now()}`;
    await run('kcat', ['-b', brokers, '-P', '-t', 'report.create', '-k', key], { input: `${value}\n` });
    const consumed = await waitFor('consumed message', async () => {
      const out = await run('kcat', ['-b', brokers, '-C', '-t', 'report.create', '-o', 'beginning',
        '-e', '-q', '-f', '%k\t%s\n']);
      return out.split('\n').find((l) => l === `${key}\t${value}`);
    });
    assert.equal(consumed, `${key}\t${value}`);

    const exit = await stop(mock);
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)} log: ${mock.log()}`);
    assert.equal(await exists(bootstrapFile), false, 'bootstrap file removed on exit');

    // Restart on the same port (connections of the first run are in TIME_WAIT).
    mock = startMock(port, bootstrapFile);
    assert.equal(await waitReady(mock, bootstrapFile), `${brokers}\n`);
    const md2 = await waitFor('metadata after restart', () => metadata(brokers));
    assert.equal(md2.topics.filter((x) => TOPICS.includes(x.topic)).length, TOPICS.length);

    const exit2 = await stop(mock);
    assert.equal(exit2.code, 0, mock.log());
    assert.equal(await exists(bootstrapFile), false);
  } finally {
    if (mock.child.exitCode === null && mock.child.signalCode === null) mock.child.kill('SIGKILL');
  }
});
