// Outside-oracle conformance test: our C GraphQL engine (gql-tool) against graphql-js.
//
//   cd tests/graphql && npm ci && GQL_TOOL=../../bin/gql-tool node --test
//
// 1. `$GQL_TOOL introspect` must produce an introspection result that graphql-js's
//    buildClientSchema accepts, and the schema it describes must contain the contract
//    SDL (schema.graphql, a copy of DESIGN.md's "GraphQL contract") unchanged.
// 2. For every document in corpus/, graphql-js's verdict (parse + validate against the
//    schema built from OUR introspection) must equal our verdict from one
//    `$GQL_TOOL validate <all files>` call. Messages may differ; codes and the presence
//    of locations are checked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildClientSchema,
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  parse,
  validate,
  validateSchema,
  version as graphqlVersion,
} from 'graphql';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const CORPUS_DIR = path.join(HERE, 'corpus');
const SDL_FILE = path.join(HERE, 'schema.graphql');
const TIMEOUT_MS = Number(process.env.GQL_TOOL_TIMEOUT_MS || 120000);

// GQL_TOOL: a path (relative to the current directory) or a command on PATH.
const TOOL = (() => {
  const t = process.env.GQL_TOOL;
  if (!t) return path.join(REPO, 'bin', 'gql-tool');
  return t.includes('/') ? path.resolve(process.cwd(), t) : t;
})();

// ---------------------------------------------------------------------------- helpers

function runTool(args, input) {
  const r = spawnSync(TOOL, args, {
    encoding: 'utf8',
    input,
    timeout: TIMEOUT_MS,
    maxBuffer: 512 * 1024 * 1024,
  });
  return {
    status: r.status,
    signal: r.signal,
    error: r.error,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
}

function describeRun(r) {
  const bits = [];
  if (r.error) bits.push(`spawn error: ${r.error.message}`);
  if (r.signal) bits.push(`killed by signal ${r.signal}`);
  if (r.status !== null && r.status !== undefined) bits.push(`exit status ${r.status}`);
  const err = r.stderr.trim();
  if (err) bits.push(`stderr (tail):\n${err.slice(-2000)}`);
  return bits.join('\n');
}

const indent = (s, pad = '    ') => s.split('\n').map((l) => pad + l).join('\n');

function fmtJsErrors(errs) {
  if (!errs.length) return '(none)';
  return errs
    .map((e) => {
      const loc = (e.locations || []).map((l) => `${l.line}:${l.column}`).join(', ');
      return `- ${e.message}${loc ? `  @ ${loc}` : ''}`;
    })
    .join('\n');
}

function fmtOurErrors(entry) {
  if (!entry) return '(no verdict)';
  const errs = Array.isArray(entry.errors) ? entry.errors : [];
  if (!errs.length) return '(none)';
  return errs
    .map((e) => {
      const loc = Array.isArray(e?.locations)
        ? e.locations.map((l) => `${l?.line}:${l?.column}`).join(', ')
        : 'no locations';
      const code = e?.extensions?.code ?? 'no extensions.code';
      return `- ${e?.message}  @ ${loc}  [${code}]`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------- schemas

const expectedSchema = buildSchema(fs.readFileSync(SDL_FILE, 'utf8'));

const introspect = (() => {
  const run = runTool(['introspect']);
  const out = { run, json: null, jsonError: null, schema: null, schemaError: null };
  if (run.error || run.signal || run.status !== 0) return out;
  try {
    out.json = JSON.parse(run.stdout);
  } catch (e) {
    out.jsonError = e;
    return out;
  }
  try {
    out.schema = buildClientSchema(out.json.data);
  } catch (e) {
    out.schemaError = e;
  }
  return out;
})();

// graphql-js's verdicts use the schema built from OUR introspection. If that is broken
// (reported by the introspection tests), fall back to the contract SDL so the corpus
// tests still say something useful.
const oracleSchema = introspect.schema ?? expectedSchema;
const oracleSchemaNote = introspect.schema
  ? 'graphql-js schema: buildClientSchema($GQL_TOOL introspect)'
  : 'graphql-js schema: FALLBACK buildSchema(schema.graphql) because introspection failed';

// ---------------------------------------------------------------------------- corpus

const corpusFiles = fs
  .readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith('.graphql'))
  .sort();

function oracleVerdict(source) {
  let doc;
  try {
    doc = parse(source);
  } catch (e) {
    return { valid: false, syntax: true, errors: [e] };
  }
  const errors = validate(oracleSchema, doc);
  return { valid: errors.length === 0, syntax: false, errors };
}

const oracle = new Map(
  corpusFiles.map((f) => {
    const p = path.join(CORPUS_DIR, f);
    return [f, oracleVerdict(fs.readFileSync(p, 'utf8'))];
  }),
);

// Our verdicts: one `validate` call for the whole corpus; any file the batch did not
// report on (e.g. the tool crashed half-way) is retried alone, to pin the crash down.
function parseValidateOutput(stdout) {
  const entries = [];
  const garbage = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object' && !Array.isArray(v)) entries.push(v);
      else garbage.push(line);
    } catch {
      garbage.push(line);
    }
  }
  return { entries, garbage };
}

const batch = (() => {
  const paths = corpusFiles.map((f) => path.join(CORPUS_DIR, f));
  const run = runTool(['validate', ...paths]);
  const { entries, garbage } = parseValidateOutput(run.stdout);
  const ours = new Map();
  const byFile = new Map(entries.filter((e) => typeof e.file === 'string').map((e) => [e.file, e]));
  corpusFiles.forEach((f, i) => {
    const p = paths[i];
    const e =
      byFile.get(p) ??
      byFile.get(path.relative(process.cwd(), p)) ??
      [...byFile.values()].find((x) => path.basename(x.file) === f) ??
      (entries.length === paths.length ? entries[i] : undefined);
    if (e) ours.set(f, { entry: e, how: 'batch' });
  });
  for (const [i, f] of corpusFiles.entries()) {
    if (ours.has(f)) continue;
    const single = runTool(['validate', paths[i]]);
    const parsed = parseValidateOutput(single.stdout);
    ours.set(f, {
      entry: parsed.entries[0],
      how: 'single',
      note:
        `not reported by the batch call; run alone: ${describeRun(single) || 'ok'}` +
        (parsed.entries.length ? '' : '\nrun alone it printed no JSON verdict either') +
        (parsed.garbage.length ? `\nnon-JSON output: ${parsed.garbage.join('\n').slice(0, 500)}` : ''),
    });
  }
  return { run, entries, garbage, ours };
})();

// ---------------------------------------------------------------------------- introspection tests

test('introspect: $GQL_TOOL introspect prints {"data":{"__schema":...}}', () => {
  const { run, json, jsonError } = introspect;
  assert.ok(!run.error && !run.signal && run.status === 0, `\`${TOOL} introspect\` failed:\n${describeRun(run)}`);
  assert.ok(!jsonError, `stdout is not JSON: ${jsonError?.message}\n${run.stdout.slice(0, 500)}`);
  assert.ok(json && typeof json === 'object', 'result is not an object');
  assert.ok(!json.errors || json.errors.length === 0, `introspection returned errors: ${JSON.stringify(json.errors)}`);
  assert.ok(json.data && json.data.__schema, 'result has no data.__schema');
});

test('introspect: graphql-js buildClientSchema accepts it and the schema is valid', () => {
  assert.ok(introspect.json, 'no introspection result (see previous test)');
  assert.ok(!introspect.schemaError, `buildClientSchema threw: ${introspect.schemaError?.stack}`);
  const errs = validateSchema(introspect.schema);
  assert.equal(errs.length, 0, `validateSchema reports:\n${errs.map((e) => `- ${e.message}`).join('\n')}`);
});

function typeKind(t) {
  if (isScalarType(t)) return 'SCALAR';
  if (isObjectType(t)) return 'OBJECT';
  if (isInterfaceType(t)) return 'INTERFACE';
  if (isUnionType(t)) return 'UNION';
  if (isEnumType(t)) return 'ENUM';
  if (isInputObjectType(t)) return 'INPUT_OBJECT';
  return '?';
}

// Walks every type, field, argument, input field and enum value of the contract SDL and
// compares with our schema: same kind, same type string, same default values, same
// deprecation. Returns a list of human-readable differences.
function contractDifferences(expected, actual) {
  const diffs = [];
  for (const op of ['getQueryType', 'getMutationType', 'getSubscriptionType']) {
    const e = expected[op]()?.name;
    const a = actual[op]()?.name;
    if (e !== a) diffs.push(`${op.slice(3)}: root type is ${a ?? 'missing'}, contract says ${e}`);
  }
  const sameDefault = (x, y) => {
    try {
      assert.deepStrictEqual(x, y);
      return true;
    } catch {
      return false;
    }
  };
  const checkArgs = (where, eArgs, aArgs) => {
    for (const ea of eArgs) {
      const aa = aArgs.find((x) => x.name === ea.name);
      if (!aa) {
        diffs.push(`${where}(${ea.name}:) missing`);
        continue;
      }
      if (String(aa.type) !== String(ea.type))
        diffs.push(`${where}(${ea.name}:) has type ${aa.type}, contract says ${ea.type}`);
      if (!sameDefault(aa.defaultValue, ea.defaultValue))
        diffs.push(`${where}(${ea.name}:) default is ${JSON.stringify(aa.defaultValue)}, contract says ${JSON.stringify(ea.defaultValue)}`);
    }
    for (const aa of aArgs)
      if (!eArgs.some((x) => x.name === aa.name) && String(aa.type).endsWith('!') && aa.defaultValue === undefined)
        diffs.push(`${where}(${aa.name}:) is an extra REQUIRED argument (breaks old clients)`);
  };
  for (const [name, et] of Object.entries(expected.getTypeMap())) {
    if (name.startsWith('__')) continue;
    const at = actual.getType(name);
    if (!at) {
      diffs.push(`type ${name} missing`);
      continue;
    }
    if (typeKind(at) !== typeKind(et)) {
      diffs.push(`type ${name} is ${typeKind(at)}, contract says ${typeKind(et)}`);
      continue;
    }
    if (isObjectType(et) || isInterfaceType(et)) {
      const af = at.getFields();
      for (const [fname, ef] of Object.entries(et.getFields())) {
        const f = af[fname];
        if (!f) {
          diffs.push(`field ${name}.${fname} missing`);
          continue;
        }
        if (String(f.type) !== String(ef.type))
          diffs.push(`field ${name}.${fname} has type ${f.type}, contract says ${ef.type}`);
        if ((f.deprecationReason ?? null) !== (ef.deprecationReason ?? null))
          diffs.push(`field ${name}.${fname} deprecationReason is ${JSON.stringify(f.deprecationReason)}, contract says ${JSON.stringify(ef.deprecationReason)}`);
        checkArgs(`${name}.${fname}`, ef.args, f.args);
      }
    } else if (isInputObjectType(et)) {
      const af = at.getFields();
      for (const [fname, ef] of Object.entries(et.getFields())) {
        const f = af[fname];
        if (!f) {
          diffs.push(`input field ${name}.${fname} missing`);
          continue;
        }
        if (String(f.type) !== String(ef.type))
          diffs.push(`input field ${name}.${fname} has type ${f.type}, contract says ${ef.type}`);
        if (!sameDefault(f.defaultValue, ef.defaultValue))
          diffs.push(`input field ${name}.${fname} default differs`);
      }
      for (const [fname, f] of Object.entries(af))
        if (!et.getFields()[fname] && String(f.type).endsWith('!') && f.defaultValue === undefined)
          diffs.push(`input field ${name}.${fname} is an extra REQUIRED field (breaks old clients)`);
    } else if (isEnumType(et)) {
      const ev = et.getValues().map((v) => v.name).sort();
      const av = at.getValues().map((v) => v.name).sort();
      if (JSON.stringify(ev) !== JSON.stringify(av))
        diffs.push(`enum ${name} has values [${av}], contract says [${ev}]`);
    }
  }
  return diffs;
}

// Directives are checked against the GraphQL spec (October 2021) below, not against
// whatever the installed graphql-js declares (16.x keeps adding: @oneOf, @deprecated
// on DIRECTIVE_DEFINITION), so directive changes are left out of findBreakingChanges.
const SPEC_DIRECTIVES = {
  skip: { locations: ['FIELD', 'FRAGMENT_SPREAD', 'INLINE_FRAGMENT'], args: ['if: Boolean!'] },
  include: { locations: ['FIELD', 'FRAGMENT_SPREAD', 'INLINE_FRAGMENT'], args: ['if: Boolean!'] },
  deprecated: {
    locations: ['FIELD_DEFINITION', 'ARGUMENT_DEFINITION', 'INPUT_FIELD_DEFINITION', 'ENUM_VALUE'],
    args: ['reason: String = "No longer supported"'],
  },
  specifiedBy: { locations: ['SCALAR'], args: ['url: String!'] },
};

test('schema: every type/field/argument of the contract SDL exists with the same type', (t) => {
  assert.ok(introspect.schema, 'no client schema (see the introspect tests)');
  const diffs = contractDifferences(expectedSchema, introspect.schema);
  const breaking = findBreakingChanges(expectedSchema, introspect.schema).filter(
    (c) => !c.type.startsWith('DIRECTIVE_'),
  );
  const extras = [];
  for (const [name, at] of Object.entries(introspect.schema.getTypeMap())) {
    if (name.startsWith('__')) continue;
    const et = expectedSchema.getType(name);
    if (!et) extras.push(`type ${name}`);
    else if ((isObjectType(at) && isObjectType(et)) || (isInputObjectType(at) && isInputObjectType(et)))
      for (const f of Object.keys(at.getFields())) if (!et.getFields()[f]) extras.push(`field ${name}.${f}`);
  }
  if (extras.length) t.diagnostic(`not in the contract SDL (allowed): ${extras.join(', ')}`);
  const msg = [
    diffs.length ? `differences from the contract:\n${indent(diffs.join('\n'))}` : '',
    breaking.length
      ? `graphql-js findBreakingChanges(contract, ours):\n${indent(breaking.map((c) => `${c.type}: ${c.description}`).join('\n'))}`
      : '',
  ]
    .filter(Boolean)
    .join('\n');
  assert.ok(diffs.length === 0 && breaking.length === 0, msg);
});

test('schema: no dangerous changes either (argument defaults, enum values, optional args/fields)', () => {
  assert.ok(introspect.schema, 'no client schema (see the introspect tests)');
  const dangerous = findDangerousChanges(expectedSchema, introspect.schema);
  assert.equal(
    dangerous.length,
    0,
    `graphql-js findDangerousChanges(contract, ours) - update schema.graphql and DESIGN.md if intended:\n` +
      indent(dangerous.map((c) => `${c.type}: ${c.description}`).join('\n')),
  );
});

function checkSpecDirective(name) {
  assert.ok(introspect.schema, 'no client schema (see the introspect tests)');
  const want = SPEC_DIRECTIVES[name];
  const d = introspect.schema.getDirective(name);
  assert.ok(d, `directive @${name} missing from introspection (GraphQL spec 2021, section 3.13)`);
  const missing = want.locations.filter((l) => !d.locations.includes(l));
  assert.deepEqual(missing, [], `@${name} lacks locations ${missing.join(', ')} (has ${d.locations.join(', ')})`);
  const args = d.args.map(
    (a) => `${a.name}: ${a.type}` + (a.defaultValue === undefined ? '' : ` = ${JSON.stringify(a.defaultValue)}`),
  );
  assert.deepEqual(args, want.args, `@${name} arguments differ`);
}

test('schema: directives @skip and @include as in the spec', () => {
  checkSpecDirective('skip');
  checkSpecDirective('include');
});

test('schema: directive @deprecated as in the spec (needed for User.password)', () => {
  checkSpecDirective('deprecated');
});

test('schema: directive @specifiedBy as in the spec (JSON is a custom scalar)', () => {
  checkSpecDirective('specifiedBy');
});

// ---------------------------------------------------------------------------- corpus tests

test('corpus: at least 200 documents, at least 60 valid and 60 invalid (per graphql-js), each well formed', (t) => {
  const verdicts = [...oracle.values()];
  const valid = verdicts.filter((v) => v.valid).length;
  const invalid = verdicts.length - valid;
  t.diagnostic(`${verdicts.length} documents: ${valid} valid, ${invalid} invalid (graphql-js ${graphqlVersion})`);
  assert.ok(verdicts.length >= 200, `only ${verdicts.length} documents`);
  assert.ok(valid >= 60, `only ${valid} valid documents`);
  assert.ok(invalid >= 60, `only ${invalid} invalid documents`);
  const numbers = new Set();
  for (const f of corpusFiles) {
    const m = /^(\d{3})-[a-z0-9][a-z0-9-]*\.graphql$/.exec(f);
    assert.ok(m, `bad corpus file name ${f} (want NNN-short-name.graphql)`);
    assert.ok(!numbers.has(m[1]), `duplicate corpus number ${m[1]}`);
    numbers.add(m[1]);
    const src = fs.readFileSync(path.join(CORPUS_DIR, f), 'utf8');
    assert.ok(src.startsWith('# '), `${f} must start with a "# " comment saying what it tests`);
  }
});

test('validate: one run over the whole corpus completes and prints one JSON line per file', () => {
  const { run, entries, garbage, ours } = batch;
  assert.ok(!run.error && !run.signal, `\`${TOOL} validate <${corpusFiles.length} files>\` did not complete:\n${describeRun(run)}`);
  assert.equal(garbage.length, 0, `non-JSON lines on stdout:\n${garbage.slice(0, 10).join('\n')}`);
  assert.equal(entries.length, corpusFiles.length, `expected ${corpusFiles.length} JSON lines, got ${entries.length}`);
  const missed = [...ours].filter(([, v]) => v.how !== 'batch').map(([f]) => f);
  assert.equal(missed.length, 0, `files without a verdict in the batch output: ${missed.join(', ')}`);
});

for (const f of corpusFiles) {
  test(f, () => {
    const js = oracle.get(f);
    const { entry, note } = batch.ours.get(f) ?? {};
    const src = fs.readFileSync(path.join(CORPUS_DIR, f), 'utf8');
    const header = src.split(/\r\n|\r|\n/, 1)[0];
    const context = () =>
      [
        `${header}`,
        `graphql-js says ${js.valid ? 'VALID' : js.syntax ? 'INVALID (syntax)' : 'INVALID'}:`,
        indent(fmtJsErrors(js.errors)),
        `gql-tool says ${!entry ? 'NOTHING' : entry.valid === true ? 'VALID' : entry.valid === false ? 'INVALID' : `valid=${JSON.stringify(entry.valid)}`}:`,
        indent(fmtOurErrors(entry)),
        note ? note : '',
        oracleSchema === expectedSchema ? oracleSchemaNote : '',
      ]
        .filter(Boolean)
        .join('\n');

    assert.ok(entry, `no verdict from gql-tool for ${f}\n${context()}`);
    assert.equal(typeof entry.valid, 'boolean', `"valid" must be a boolean\n${context()}`);
    assert.equal(entry.valid, js.valid, `verdicts differ\n${context()}`);

    const errs = entry.errors ?? [];
    assert.ok(Array.isArray(errs), `"errors" must be an array\n${context()}`);
    if (js.valid) {
      assert.equal(errs.length, 0, `valid document but gql-tool lists errors\n${context()}`);
      return;
    }
    assert.ok(errs.length > 0, `invalid document but gql-tool lists no errors\n${context()}`);
    const wantCode = js.syntax ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED';
    for (const e of errs) {
      assert.equal(typeof e?.message, 'string', `every error needs a message\n${context()}`);
      assert.equal(e?.extensions?.code, wantCode, `every error must carry extensions.code ${wantCode}\n${context()}`);
    }
    const locs = errs[0].locations;
    assert.ok(
      Array.isArray(locs) &&
        locs.length > 0 &&
        locs.every((l) => Number.isInteger(l?.line) && l.line >= 1 && Number.isInteger(l?.column) && l.column >= 1),
      `the first error must have locations [{line>=1, column>=1}]\n${context()}`,
    );
  });
}
