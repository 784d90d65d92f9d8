#include "queue.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "cfg.h"
#include "clock.h"
#include "redisc.h"
#include "xalloc.h"

enum {
	KEY_MAX = QUEUE_PREFIX_MAX + 16,		/* "<p>:completed" */
	JOBKEY_MAX = QUEUE_PREFIX_MAX + 8 + QUEUE_ID_MAX,	/* "<p>:job:<id>" */
	NUM_MAX = 32,					/* a decimal int64 */
	SHA_LEN = 40,
	ARGV_MAX = 16,
	BACKOFF_FIRST_MS = 100,
	BACKOFF_MAX_MS = 5000,
	LAST_ERR_MAX = 200,
	CLAIM_FIELDS = 8,		/* values per job in the claim reply */
};

/* ---- scripts ------------------------------------------------------------
 * Every script reads Redis server time first (allowed before writes since
 * Redis 5 with effects replication, the only mode of Redis 7). */

#define NOW_LUA \
	"local t = redis.call('TIME')\n" \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* KEYS: job due events   ARGV: id payload delay max_attempts events_max */
static const char enqueue_lua[] = NOW_LUA
	"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	"local due = now + tonumber(ARGV[3])\n"
	"redis.call('HSET', KEYS[1], 'state', 'waiting', 'attempts', 0,\n"
	"  'max_attempts', ARGV[4], 'payload', ARGV[2], 'created_ms', now,\n"
	"  'updated_ms', now, 'due_ms', due, 'finished_ms', 0, 'worker', '',\n"
	"  'lease_until_ms', 0, 'token', 0, 'reason', '', 'stalls', 0)\n"
	"redis.call('ZADD', KEYS[2], due, ARGV[1])\n"
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'ev', 'enqueued',\n"
	"  'job', ARGV[1], 'attempt', 0, 'due_ms', due)\n"
	"return 1\n";

/* KEYS: due active events   ARGV: jobprefix worker max lease_ms events_max
 * Reply: {now, lease_until, then per job: id payload attempts max_attempts
 *         token created_ms stalls stalled(0/1)} */
static const char claim_lua[] = NOW_LUA
	"local max = tonumber(ARGV[3])\n"
	"local lu = now + tonumber(ARGV[4])\n"
	"local w = ARGV[2]\n"
	"local out = {now, lu}\n"
	"local n = 0\n"
	"local function take(id, stalled)\n"
	"  local k = ARGV[1] .. id\n"
	"  local v = redis.call('HMGET', k, 'state', 'worker', 'payload',\n"
	"    'max_attempts', 'created_ms')\n"
	"  local want = 'waiting'\n"
	"  if stalled then want = 'active' end\n"
	"  if v[1] ~= want then\n"
	"    if stalled then redis.call('ZREM', KEYS[2], id)\n"
	"    else redis.call('ZREM', KEYS[1], id) end\n"
	"    return\n"
	"  end\n"
	"  local a = redis.call('HINCRBY', k, 'attempts', 1)\n"
	"  local tok = redis.call('HINCRBY', k, 'token', 1)\n"
	"  local st = 0\n"
	"  local ev = 'claimed'\n"
	"  if stalled then\n"
	"    redis.call('HINCRBY', k, 'stalls', 1)\n"
	"    ev = 'stalled'\n"
	"  else\n"
	"    redis.call('ZREM', KEYS[1], id)\n"
	"  end\n"
	"  local stalls = tonumber(redis.call('HGET', k, 'stalls'))\n"
	"  redis.call('HSET', k, 'state', 'active', 'worker', w, 'lease_until_ms', lu,\n"
	"    'updated_ms', now)\n"
	"  redis.call('ZADD', KEYS[2], lu, id)\n"
	"  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'ev', ev,\n"
	"    'job', id, 'attempt', a, 'worker', w, 'prev_worker', v[2] or '')\n"
	"  if stalled then st = 1 end\n"
	"  table.insert(out, id)\n"
	"  table.insert(out, v[3] or '')\n"
	"  table.insert(out, a)\n"
	"  table.insert(out, tonumber(v[4]) or 0)\n"
	"  table.insert(out, tok)\n"
	"  table.insert(out, tonumber(v[5]) or 0)\n"
	"  table.insert(out, stalls)\n"
	"  table.insert(out, st)\n"
	"  n = n + 1\n"
	"end\n"
	"local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, max)\n"
	"for _, id in ipairs(ids) do take(id, true) end\n"
	"if n < max then\n"
	"  ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max - n)\n"
	"  for _, id in ipairs(ids) do take(id, false) end\n"
	"end\n"
	"return out\n";

/* KEYS: job active   ARGV: id token lease_ms
 * Reply: -1 lost lease, else the new lease end. */
static const char extend_lua[] = NOW_LUA
	"local v = redis.call('HMGET', KEYS[1], 'state', 'token')\n"
	"if v[1] ~= 'active' or v[2] ~= ARGV[2] then return -1 end\n"
	"local lu = now + tonumber(ARGV[3])\n"
	"redis.call('HSET', KEYS[1], 'lease_until_ms', lu, 'updated_ms', now)\n"
	"redis.call('ZADD', KEYS[2], lu, ARGV[1])\n"
	"return lu\n";

/* KEYS: job due active events   ARGV: id token delay reason events_max
 * Reply: {-1} lost lease, {-2, attempts, max} exhausted, {1, due_ms}. */
static const char retry_lua[] = NOW_LUA
	"local v = redis.call('HMGET', KEYS[1], 'state', 'token', 'attempts',\n"
	"  'max_attempts', 'worker')\n"
	"if v[1] ~= 'active' or v[2] ~= ARGV[2] then return {-1} end\n"
	"local a = tonumber(v[3])\n"
	"local m = tonumber(v[4])\n"
	"if a >= m then return {-2, a, m} end\n"
	"local due = now + tonumber(ARGV[3])\n"
	"redis.call('HSET', KEYS[1], 'state', 'waiting', 'due_ms', due,\n"
	"  'lease_until_ms', 0, 'reason', ARGV[4], 'updated_ms', now)\n"
	"redis.call('ZREM', KEYS[3], ARGV[1])\n"
	"redis.call('ZADD', KEYS[2], due, ARGV[1])\n"
	"redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'ev', 'retry',\n"
	"  'job', ARGV[1], 'attempt', a, 'worker', v[5], 'due_ms', due,\n"
	"  'reason', ARGV[4])\n"
	"return {1, due}\n";

/* KEYS: job active set events
 * ARGV: id token keep events_max jobprefix state reason
 * Reply: -1 lost lease, else finished_ms. */
static const char finish_lua[] = NOW_LUA
	"local v = redis.call('HMGET', KEYS[1], 'state', 'token', 'attempts',\n"
	"  'worker')\n"
	"if v[1] ~= 'active' or v[2] ~= ARGV[2] then return -1 end\n"
	"redis.call('HSET', KEYS[1], 'state', ARGV[6], 'finished_ms', now,\n"
	"  'updated_ms', now, 'lease_until_ms', 0)\n"
	"if ARGV[6] == 'failed' then\n"
	"  redis.call('HSET', KEYS[1], 'reason', ARGV[7])\n"
	"end\n"
	"redis.call('ZREM', KEYS[2], ARGV[1])\n"
	"redis.call('ZADD', KEYS[3], now, ARGV[1])\n"
	"redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'ev', ARGV[6],\n"
	"  'job', ARGV[1], 'attempt', v[3], 'worker', v[4], 'reason', ARGV[7])\n"
	"local keep = tonumber(ARGV[3])\n"
	"local n = redis.call('ZCARD', KEYS[3])\n"
	"if n > keep then\n"
	"  local old = redis.call('ZRANGE', KEYS[3], 0, n - keep - 1)\n"
	"  for _, id in ipairs(old) do redis.call('DEL', ARGV[5] .. id) end\n"
	"  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, n - keep - 1)\n"
	"end\n"
	"return now\n";

/* KEYS: job due completed failed events
 * ARGV: id delay max_attempts events_max
 * Reply: 0 unknown, -1 not finished, else due_ms. */
static const char requeue_lua[] = NOW_LUA
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"if not st then return 0 end\n"
	"if st ~= 'completed' and st ~= 'failed' then return -1 end\n"
	"local due = now + tonumber(ARGV[2])\n"
	"redis.call('ZREM', KEYS[3], ARGV[1])\n"
	"redis.call('ZREM', KEYS[4], ARGV[1])\n"
	"redis.call('HSET', KEYS[1], 'state', 'waiting', 'attempts', 0,\n"
	"  'due_ms', due, 'updated_ms', now, 'finished_ms', 0,\n"
	"  'lease_until_ms', 0, 'reason', '')\n"
	"if tonumber(ARGV[3]) > 0 then\n"
	"  redis.call('HSET', KEYS[1], 'max_attempts', ARGV[3])\n"
	"end\n"
	"redis.call('ZADD', KEYS[2], due, ARGV[1])\n"
	"redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'ev', 'requeued',\n"
	"  'job', ARGV[1], 'attempt', 0, 'due_ms', due)\n"
	"return due\n";

/* KEYS: due active completed failed */
static const char counts_lua[] = NOW_LUA
	"return {redis.call('ZCOUNT', KEYS[1], '-inf', now),\n"
	"  redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf'),\n"
	"  redis.call('ZCARD', KEYS[2]),\n"
	"  redis.call('ZCOUNT', KEYS[2], '-inf', now),\n"
	"  redis.call('ZCARD', KEYS[3]),\n"
	"  redis.call('ZCARD', KEYS[4])}\n";

/* KEYS: due active   Reply: -1 nothing, else ms until the earliest. */
static const char next_due_lua[] = NOW_LUA
	"local m = nil\n"
	"for _, k in ipairs(KEYS) do\n"
	"  local r = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')\n"
	"  if #r > 0 then\n"
	"    local s = tonumber(r[2])\n"
	"    if m == nil or s < m then m = s end\n"
	"  end\n"
	"end\n"
	"if m == nil then return -1 end\n"
	"if m <= now then return 0 end\n"
	"return m - now\n";

enum script_id {
	S_ENQUEUE, S_CLAIM, S_EXTEND, S_RETRY, S_FINISH, S_REQUEUE, S_COUNTS,
	S_NEXT_DUE, S_COUNT_
};

static const char *const script_text[S_COUNT_] = {
	enqueue_lua, claim_lua, extend_lua, retry_lua, finish_lua, requeue_lua,
	counts_lua, next_due_lua,
};

struct queue {
	char *url;
	char prefix[QUEUE_PREFIX_MAX + 1];
	int timeout_ms;
	int keep_completed;
	int keep_failed;
	int events_max;
	redisContext *c;		/* NULL: not connected */
	int64_t backoff_ms;		/* 0 after a successful connect */
	int64_t next_connect_ms;	/* monotonic; no attempt before */
	char last_err[LAST_ERR_MAX];	/* why the last connect failed */
	char sha[S_COUNT_][SHA_LEN + 1];
	char k_due[KEY_MAX], k_active[KEY_MAX], k_completed[KEY_MAX];
	char k_failed[KEY_MAX], k_events[KEY_MAX], k_jobp[KEY_MAX];
};

static const char *const state_names[] = {
	[QUEUE_WAITING] = "waiting",
	[QUEUE_ACTIVE] = "active",
	[QUEUE_COMPLETED] = "completed",
	[QUEUE_FAILED] = "failed",
};

const char *queue_state_name(enum queue_state s)
{
	if ((unsigned)s < sizeof state_names / sizeof state_names[0])
		return state_names[s];
	return "unknown";
}

static int state_parse(const char *s, size_t n, enum queue_state *out)
{
	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++) {
		if (strlen(state_names[i]) == n && memcmp(state_names[i], s, n) == 0) {
			*out = (enum queue_state)i;
			return 0;
		}
	}
	return -1;
}

void queue_opts_init(struct queue_opts *o, const struct config *c)
{
	o->redis_url = c ? c->redis_url : "redis://127.0.0.1:6379/0";
	o->prefix = c ? c->queue_prefix : "rq";
	o->timeout_ms = c ? c->dep_timeout_ms : 1000;
	o->keep_completed = c ? c->queue_keep_completed : 1000;
	o->keep_failed = c ? c->queue_keep_failed : 5000;
	o->events_max = c ? c->queue_events_max : 10000;
}

/* ---- validation ---------------------------------------------------------- */

/* 1..max bytes of printable ASCII or UTF-8, no space or control. */
static bool valid_name(const char *s, size_t max)
{
	if (s == NULL)
		return false;
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static bool valid_event_id(const char *s)
{
	size_t n = strnlen(s, QUEUE_EVENT_ID_MAX);
	if (n == 0 || n >= QUEUE_EVENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Copies src into dst[size] (truncated at a UTF-8 boundary). */
static void copy_trunc(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int fmt_i64(char buf[NUM_MAX], int64_t v)
{
	int n = snprintf(buf, NUM_MAX, "%lld", (long long)v);
	return n < 0 || n >= NUM_MAX ? -1 : 0;
}

static int job_key(const struct queue *q, const char *id, char out[JOBKEY_MAX],
    struct err *e)
{
	int n = snprintf(out, JOBKEY_MAX, "%s%s", q->k_jobp, id);
	if (n < 0 || n >= JOBKEY_MAX)
		return err_set(e, APP_ERR_BAD_INPUT, "job id too long", NULL);
	return 0;
}

/* ---- connection ---------------------------------------------------------- */

static void drop_conn(struct queue *q)
{
	if (q->c != NULL) {
		redisFree(q->c);
		q->c = NULL;
	}
}

static int load_scripts(struct queue *q, struct err *e)
{
	for (int i = 0; i < S_COUNT_; i++) {
		redisReply *r = redisCommand(q->c, "SCRIPT LOAD %s", script_text[i]);
		if (r == NULL)
			return err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable",
			    "SCRIPT LOAD: %s", q->c->errstr);
		int rc = 0;
		if (r->type != REDIS_REPLY_STRING || r->len != SHA_LEN)
			rc = err_set(e, APP_ERR_UNAVAILABLE, "redis refused a command",
			    "SCRIPT LOAD: %s", r->type == REDIS_REPLY_ERROR ?
			    r->str : "unexpected reply");
		else
			memcpy(q->sha[i], r->str, SHA_LEN + 1);
		freeReplyObject(r);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Connects if needed, honouring the reconnect backoff. */
static int ensure_conn(struct queue *q, struct err *e)
{
	if (q->c != NULL)
		return 0;
	int64_t now = clock_mono_ms();
	if (now < q->next_connect_ms)
		return err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable",
		    "reconnect backoff (%lld ms left); last error: %s",
		    (long long)(q->next_connect_ms - now), q->last_err);
	struct err ce;
	err_clear(&ce);
	q->c = redisc_open(q->url, q->timeout_ms, &ce);
	if (q->c != NULL && load_scripts(q, &ce) != 0)
		drop_conn(q);
	if (q->c == NULL) {
		q->backoff_ms = q->backoff_ms == 0 ? BACKOFF_FIRST_MS :
		    (q->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : q->backoff_ms * 2);
		q->next_connect_ms = clock_mono_ms() + q->backoff_ms;
		copy_trunc(q->last_err, sizeof q->last_err, ce.detail, strlen(ce.detail));
		return err_set(e, ce.code == 0 ? APP_ERR_UNAVAILABLE : ce.code,
		    ce.msg[0] ? ce.msg : "redis unavailable", "%s", ce.detail);
	}
	q->backoff_ms = 0;
	q->next_connect_ms = 0;
	q->last_err[0] = '\0';
	return 0;
}

static bool is_noscript(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* An error reply (OOM, READONLY, ...) to cmd; the connection stays. */
static int refused(const char *cmd, const redisReply *r, struct err *e)
{
	return err_set(e, APP_ERR_UNAVAILABLE, "redis refused a command", "%s: %s",
	    cmd, r->str);
}

/* A transport error (timeout, reset, protocol) during cmd: the connection
 * is dropped and the next call reconnects, subject to the backoff. */
static int conn_lost(struct queue *q, const char *cmd, struct err *e)
{
	int rc = err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable", "%s: %s", cmd,
	    q->c->errstr[0] ? q->c->errstr : "no reply");
	drop_conn(q);
	return rc;
}

/* Sends argv; NULL with e filled on a transport error (connection dropped)
 * or an error reply other than NOSCRIPT, which is returned to the caller
 * (only run_script asks for it). */
static redisReply *command(struct queue *q, int argc, const char **argv,
    const size_t *lens, bool want_noscript, struct err *e)
{
	if (ensure_conn(q, e) != 0)
		return NULL;
	redisReply *r = redisCommandArgv(q->c, argc, argv, lens);
	if (r == NULL) {
		conn_lost(q, argv[0], e);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		if (want_noscript && is_noscript(r))
			return r;
		refused(argv[0], r, e);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* One script run: the EVALSHA argv and its lengths.  argv[1], the sha, is
 * filled in once connected.  Keys and args are pointed at, not copied. */
struct call {
	enum script_id script;
	int argc;
	const char *argv[ARGV_MAX];
	size_t lens[ARGV_MAX];
	char nk[NUM_MAX];
};

/* Builds c for script id with keys and args (args may carry lengths: alens
 * NULL means strlen).  Returns 0 or APP_ERR_INTERNAL (too many). */
static int call_set(struct call *c, enum script_id id, int nkeys,
    const char *const *keys, int nargs, const char *const *args,
    const size_t *alens, struct err *e)
{
	if (3 + nkeys + nargs > ARGV_MAX || fmt_i64(c->nk, nkeys) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "script argv");
	c->script = id;
	c->argc = 0;
	c->argv[c->argc] = "EVALSHA";
	c->lens[c->argc++] = 7;
	c->argv[c->argc] = NULL;
	c->lens[c->argc++] = SHA_LEN;
	c->argv[c->argc] = c->nk;
	c->lens[c->argc++] = strlen(c->nk);
	for (int i = 0; i < nkeys; i++) {
		c->argv[c->argc] = keys[i];
		c->lens[c->argc++] = strlen(keys[i]);
	}
	for (int i = 0; i < nargs; i++) {
		c->argv[c->argc] = args[i];
		c->lens[c->argc++] = alens ? alens[i] : strlen(args[i]);
	}
	return 0;
}

/* Runs c again after a NOSCRIPT reply (the script cache was flushed): EVAL
 * of the text, which caches the script again. */
static redisReply *call_eval(struct queue *q, struct call *c, struct err *e)
{
	c->argv[0] = "EVAL";
	c->lens[0] = 4;
	c->argv[1] = script_text[c->script];
	c->lens[1] = strlen(script_text[c->script]);
	return command(q, c->argc, c->argv, c->lens, false, e);
}

/* Runs script id with keys and args (as call_set) in one round trip:
 * EVALSHA, and EVAL of the text on NOSCRIPT. */
static redisReply *run_script(struct queue *q, enum script_id id, int nkeys,
    const char *const *keys, int nargs, const char *const *args,
    const size_t *alens, struct err *e)
{
	struct call c;
	if (call_set(&c, id, nkeys, keys, nargs, args, alens, e) != 0)
		return NULL;
	if (ensure_conn(q, e) != 0)
		return NULL;
	c.argv[1] = q->sha[id];
	redisReply *r = command(q, c.argc, c.argv, c.lens, true, e);
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return r;
	freeReplyObject(r);
	return call_eval(q, &c, e);
}

/* ---- reply parsing ------------------------------------------------------- */

static bool reply_i64(const redisReply *r, int64_t *out)
{
	if (r->type == REDIS_REPLY_INTEGER) {
		*out = (int64_t)r->integer;
		return true;
	}
	if (r->type == REDIS_REPLY_STRING) {
		if (r->len == 0 || r->len >= NUM_MAX)
			return false;
		char buf[NUM_MAX];
		memcpy(buf, r->str, r->len);
		buf[r->len] = '\0';
		char *end;
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno != 0 || *end != '\0')
			return false;
		*out = (int64_t)v;
		return true;
	}
	return false;
}

static int bad_reply(struct err *e, const char *what)
{
	return err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable",
	    "%s: unexpected reply", what);
}

static int clamp_int(int64_t v)
{
	return v > INT_MAX ? INT_MAX : (v < INT_MIN ? INT_MIN : (int)v);
}

/* ---- lifecycle ----------------------------------------------------------- */

struct queue *queue_new(const struct queue_opts *o, struct err *e)
{
	if (o == NULL || o->redis_url == NULL || o->redis_url[0] == '\0') {
		err_set(e, APP_ERR_BAD_INPUT, "queue: redis url missing", NULL);
		return NULL;
	}
	if (!valid_name(o->prefix, QUEUE_PREFIX_MAX)) {
		err_set(e, APP_ERR_BAD_INPUT, "queue: bad key prefix", NULL);
		return NULL;
	}
	if (o->timeout_ms < 1 || o->keep_completed < 0 || o->keep_failed < 0 ||
	    o->events_max < 1) {
		err_set(e, APP_ERR_BAD_INPUT, "queue: bad options", NULL);
		return NULL;
	}
	struct queue *q = xcalloc(1, sizeof *q);
	q->url = xstrdup(o->redis_url);
	memcpy(q->prefix, o->prefix, strlen(o->prefix) + 1);
	q->timeout_ms = o->timeout_ms;
	q->keep_completed = o->keep_completed;
	q->keep_failed = o->keep_failed;
	q->events_max = o->events_max;
	static const struct {
		size_t off;
		const char *suffix;
	} keys[] = {
		{ offsetof(struct queue, k_due), "due" },
		{ offsetof(struct queue, k_active), "active" },
		{ offsetof(struct queue, k_completed), "completed" },
		{ offsetof(struct queue, k_failed), "failed" },
		{ offsetof(struct queue, k_events), "events" },
		{ offsetof(struct queue, k_jobp), "job:" },
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *dst = (char *)q + keys[i].off;
		int n = snprintf(dst, KEY_MAX, "%s:%s", q->prefix, keys[i].suffix);
		if (n < 0 || n >= KEY_MAX) {
			err_set(e, APP_ERR_BAD_INPUT, "queue: bad key prefix", NULL);
			queue_free(q);
			return NULL;
		}
	}
	struct redisc_url u;
	if (redisc_url_parse(q->url, &u, e) != 0 || ensure_conn(q, e) != 0) {
		queue_free(q);
		return NULL;
	}
	return q;
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	drop_conn(q);
	free(q->url);
	free(q);
}

/* ---- operations ---------------------------------------------------------- */

int queue_claim(struct queue *q, const char *worker_id, size_t max,
    int64_t lease_ms, struct queue_job *out, size_t *n, struct err *e)
{
	*n = 0;
	if (!valid_name(worker_id, QUEUE_WORKER_MAX))
		return err_set(e, APP_ERR_BAD_INPUT, "bad worker id", NULL);
	if (max < 1 || max > QUEUE_CLAIM_MAX || out == NULL)
		return err_set(e, APP_ERR_BAD_INPUT, "bad claim count", NULL);
	if (lease_ms < 1 || lease_ms > QUEUE_DELAY_MAX_MS)
		return err_set(e, APP_ERR_BAD_INPUT, "bad lease", NULL);
	char mx[NUM_MAX], ls[NUM_MAX], em[NUM_MAX];
	if (fmt_i64(mx, (int64_t)max) != 0 || fmt_i64(ls, lease_ms) != 0 ||
	    fmt_i64(em, q->events_max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	const char *keys[] = { q->k_due, q->k_active, q->k_events };
	const char *args[] = { q->k_jobp, worker_id, mx, ls, em };
	redisReply *r = run_script(q, S_CLAIM, 3, keys, 5, args, NULL, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	int64_t now, lu;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    (r->elements - 2) % CLAIM_FIELDS != 0 ||
	    (r->elements - 2) / CLAIM_FIELDS > max ||
	    !reply_i64(r->element[0], &now) || !reply_i64(r->element[1], &lu)) {
		rc = bad_reply(e, "claim");
		goto out;
	}
	size_t got = (r->elements - 2) / CLAIM_FIELDS;
	for (size_t i = 0; i < got; i++) {
		redisReply **f = r->element + 2 + i * CLAIM_FIELDS;
		struct queue_job *j = &out[i];
		memset(j, 0, sizeof *j);
		int64_t a, m, tok, created, stalls, st;
		if (f[0]->type != REDIS_REPLY_STRING || f[1]->type != REDIS_REPLY_STRING ||
		    !reply_i64(f[2], &a) || !reply_i64(f[3], &m) ||
		    !reply_i64(f[4], &tok) || !reply_i64(f[5], &created) ||
		    !reply_i64(f[6], &stalls) || !reply_i64(f[7], &st)) {
			/* The claimed jobs stay active and come back after
			 * their lease; *n stays 0 so nobody works on them twice. */
			rc = bad_reply(e, "claim job");
			goto out;
		}
		copy_trunc(j->id, sizeof j->id, f[0]->str, f[0]->len);
		copy_trunc(j->payload, sizeof j->payload, f[1]->str, f[1]->len);
		j->payload_len = strlen(j->payload);
		j->state = QUEUE_ACTIVE;
		j->attempts = clamp_int(a);
		j->max_attempts = clamp_int(m);
		j->token = tok;
		j->created_ms = created;
		j->updated_ms = now;
		j->lease_until_ms = lu;
		j->stalls = clamp_int(stalls);
		j->stalled = st != 0;
		j->exhausted = a > m;
		copy_trunc(j->worker, sizeof j->worker, worker_id, strlen(worker_id));
	}
	*n = got;
out:
	freeReplyObject(r);
	return rc;
}

static int check_job(const struct queue_job *job, struct err *e)
{
	if (job == NULL || !valid_name(job->id, QUEUE_ID_MAX) || job->token < 1)
		return err_set(e, APP_ERR_BAD_INPUT, "bad job", NULL);
	return 0;
}

static int lost_lease(struct err *e, const char *id)
{
	return err_set(e, APP_ERR_CONFLICT, "lost lease", "job %s: token is stale "
	    "(reclaimed, finished or unknown)", id);
}

int queue_extend(struct queue *q, struct queue_job *job, int64_t lease_ms,
    struct err *e)
{
	int rc = check_job(job, e);
	if (rc != 0)
		return rc;
	if (lease_ms < 1 || lease_ms > QUEUE_DELAY_MAX_MS)
		return err_set(e, APP_ERR_BAD_INPUT, "bad lease", NULL);
	char jk[JOBKEY_MAX], tok[NUM_MAX], ls[NUM_MAX];
	if ((rc = job_key(q, job->id, jk, e)) != 0)
		return rc;
	if (fmt_i64(tok, job->token) != 0 || fmt_i64(ls, lease_ms) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	const char *keys[] = { jk, q->k_active };
	const char *args[] = { job->id, tok, ls };
	redisReply *r = run_script(q, S_EXTEND, 2, keys, 3, args, NULL, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	int64_t v;
	if (!reply_i64(r, &v))
		rc = bad_reply(e, "extend");
	else if (v < 0)
		rc = lost_lease(e, job->id);
	else
		job->lease_until_ms = v;
	freeReplyObject(r);
	return rc;
}

/* ---- batched operations ---------------------------------------------------
 * enqueue, retry, complete and fail all go through queue_run(); the single
 * functions run a batch of one, so both validate and parse alike.  Each op
 * is built (validated, its argv formatted into its op_call), sent pipelined
 * with the others, and its reply parsed into op->rc, op->created and
 * op->job. */

enum op_state {
	OP_UNSENT,	/* invalid: op->rc is set, nothing is sent */
	OP_PENDING,	/* built, awaiting its reply */
	OP_NOSCRIPT,	/* answered NOSCRIPT: to be run again with EVAL */
	OP_DONE,	/* op->rc is final */
};

/* The argv of one op and the buffers it points into (so op_calls are not
 * moved once built). */
struct op_call {
	struct call c;
	enum op_state state;
	char jk[JOBKEY_MAX];
	char tok[NUM_MAX];		/* token */
	char d[NUM_MAX];		/* delay_ms */
	char m[NUM_MAX];		/* max_attempts, or the retention to keep */
	char em[NUM_MAX];		/* events_max */
	char why[QUEUE_REASON_MAX + 1];	/* the reason, truncated */
};

static int build_enqueue(struct queue *q, struct queue_op *op,
    struct op_call *oc)
{
	struct err *e = &op->e;
	if (!valid_name(op->id, QUEUE_ID_MAX))
		return err_set(e, APP_ERR_BAD_INPUT, "bad job id", NULL);
	if (op->payload == NULL ||
	    strnlen(op->payload, QUEUE_PAYLOAD_MAX + 1) > QUEUE_PAYLOAD_MAX)
		return err_set(e, APP_ERR_BAD_INPUT, "job payload too large", NULL);
	if (op->delay_ms < 0 || op->delay_ms > QUEUE_DELAY_MAX_MS)
		return err_set(e, APP_ERR_BAD_INPUT, "bad job delay", NULL);
	if (op->max_attempts < 1)
		return err_set(e, APP_ERR_BAD_INPUT, "bad max attempts", NULL);
	int rc = job_key(q, op->id, oc->jk, e);
	if (rc != 0)
		return rc;
	if (fmt_i64(oc->d, op->delay_ms) != 0 ||
	    fmt_i64(oc->m, op->max_attempts) != 0 ||
	    fmt_i64(oc->em, q->events_max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	const char *keys[] = { oc->jk, q->k_due, q->k_events };
	const char *args[] = { op->id, op->payload, oc->d, oc->m, oc->em };
	return call_set(&oc->c, S_ENQUEUE, 3, keys, 5, args, NULL, e);
}

static int build_retry(struct queue *q, struct queue_op *op, struct op_call *oc)
{
	struct err *e = &op->e;
	const struct queue_job *job = op->job;
	int rc = check_job(job, e);
	if (rc != 0)
		return rc;
	if (op->delay_ms < 0 || op->delay_ms > QUEUE_DELAY_MAX_MS)
		return err_set(e, APP_ERR_BAD_INPUT, "bad job delay", NULL);
	if ((rc = job_key(q, job->id, oc->jk, e)) != 0)
		return rc;
	if (fmt_i64(oc->tok, job->token) != 0 ||
	    fmt_i64(oc->d, op->delay_ms) != 0 ||
	    fmt_i64(oc->em, q->events_max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	const char *reason = op->reason;
	copy_trunc(oc->why, sizeof oc->why, reason ? reason : "",
	    reason ? strlen(reason) : 0);
	const char *keys[] = { oc->jk, q->k_due, q->k_active, q->k_events };
	const char *args[] = { job->id, oc->tok, oc->d, oc->why, oc->em };
	return call_set(&oc->c, S_RETRY, 4, keys, 5, args, NULL, e);
}

/* The state QUEUE_OP_COMPLETE or QUEUE_OP_FAIL moves the job to. */
static enum queue_state finish_state(const struct queue_op *op)
{
	return op->kind == QUEUE_OP_COMPLETE ? QUEUE_COMPLETED : QUEUE_FAILED;
}

static int build_finish(struct queue *q, struct queue_op *op,
    struct op_call *oc)
{
	struct err *e = &op->e;
	const struct queue_job *job = op->job;
	enum queue_state to = finish_state(op);
	int rc = check_job(job, e);
	if (rc != 0)
		return rc;
	if ((rc = job_key(q, job->id, oc->jk, e)) != 0)
		return rc;
	int k = to == QUEUE_COMPLETED ? q->keep_completed : q->keep_failed;
	if (fmt_i64(oc->tok, job->token) != 0 || fmt_i64(oc->m, k) != 0 ||
	    fmt_i64(oc->em, q->events_max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	/* complete takes no reason, whatever the op carries */
	const char *reason = to == QUEUE_FAILED ? op->reason : NULL;
	copy_trunc(oc->why, sizeof oc->why, reason ? reason : "",
	    reason ? strlen(reason) : 0);
	const char *keys[] = { oc->jk, q->k_active,
		to == QUEUE_COMPLETED ? q->k_completed : q->k_failed, q->k_events };
	const char *args[] = { job->id, oc->tok, oc->m, oc->em, q->k_jobp,
		queue_state_name(to), oc->why };
	return call_set(&oc->c, S_FINISH, 4, keys, 7, args, NULL, e);
}

/* Validates op and builds its call into oc.  Returns 0, APP_ERR_BAD_INPUT
 * or APP_ERR_INTERNAL (op->e filled). */
static int op_build(struct queue *q, struct queue_op *op, struct op_call *oc)
{
	switch (op->kind) {
	case QUEUE_OP_ENQUEUE:
		return build_enqueue(q, op, oc);
	case QUEUE_OP_RETRY:
		return build_retry(q, op, oc);
	case QUEUE_OP_COMPLETE:
	case QUEUE_OP_FAIL:
		return build_finish(q, op, oc);
	}
	return err_set(&op->e, APP_ERR_BAD_INPUT, "bad queue operation",
	    "kind %d", (int)op->kind);
}

static int parse_enqueue(struct queue_op *op, const redisReply *r)
{
	int64_t v;
	if (!reply_i64(r, &v))
		return bad_reply(&op->e, "enqueue");
	op->created = v == 1;
	return 0;
}

static int parse_retry(struct queue_op *op, const struct op_call *oc,
    const redisReply *r)
{
	struct err *e = &op->e;
	struct queue_job *job = op->job;
	int64_t v, due, a = 0, m = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    !reply_i64(r->element[0], &v))
		return bad_reply(e, "retry");
	if (v == -1)
		return lost_lease(e, job->id);
	if (v == -2) {
		if (r->elements >= 3) {
			(void)reply_i64(r->element[1], &a);	/* detail only */
			(void)reply_i64(r->element[2], &m);
		}
		return err_set(e, APP_ERR_TOO_LARGE, "attempts exhausted",
		    "job %s: attempt %lld of %lld", job->id, (long long)a,
		    (long long)m);
	}
	if (r->elements < 2 || !reply_i64(r->element[1], &due))
		return bad_reply(e, "retry");
	job->state = QUEUE_WAITING;
	job->due_ms = due;
	job->lease_until_ms = 0;
	copy_trunc(job->reason, sizeof job->reason, oc->why, strlen(oc->why));
	return 0;
}

static int parse_finish(struct queue_op *op, const struct op_call *oc,
    const redisReply *r)
{
	struct queue_job *job = op->job;
	enum queue_state to = finish_state(op);
	int64_t v;
	if (!reply_i64(r, &v))
		return bad_reply(&op->e, "finish");
	if (v < 0)
		return lost_lease(&op->e, job->id);
	job->state = to;
	job->finished_ms = v;
	job->lease_until_ms = 0;
	if (to == QUEUE_FAILED)
		copy_trunc(job->reason, sizeof job->reason, oc->why,
		    strlen(oc->why));
	return 0;
}

/* Sets op->rc from its reply r and frees r. */
static void op_answer(struct queue_op *op, struct op_call *oc, redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR)
		op->rc = refused(oc->c.argv[0], r, &op->e);
	else if (op->kind == QUEUE_OP_ENQUEUE)
		op->rc = parse_enqueue(op, r);
	else if (op->kind == QUEUE_OP_RETRY)
		op->rc = parse_retry(op, oc, r);
	else
		op->rc = parse_finish(op, oc, r);
	freeReplyObject(r);
	oc->state = OP_DONE;
}

/* Fails every op still awaiting its reply (or its EVAL) with te. */
static void fail_unanswered(struct queue_op *ops, struct op_call *oc, size_t n,
    const struct err *te)
{
	for (size_t i = 0; i < n; i++) {
		if (oc[i].state != OP_PENDING && oc[i].state != OP_NOSCRIPT)
			continue;
		ops[i].e = *te;
		ops[i].rc = te->code;
		oc[i].state = OP_DONE;
	}
}

/* Appends every pending op to the output buffer, then reads the replies in
 * order (the first read writes the buffer: one round trip).  An op
 * answered NOSCRIPT is run again with EVAL only after the last reply is in:
 * a command sent earlier would be handed the reply of the next op. */
static void pipeline(struct queue *q, struct queue_op *ops, struct op_call *oc,
    size_t n)
{
	struct err te;
	err_clear(&te);
	if (ensure_conn(q, &te) != 0) {
		fail_unanswered(ops, oc, n, &te);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (oc[i].state != OP_PENDING)
			continue;
		struct call *c = &oc[i].c;
		c->argv[1] = q->sha[c->script];
		if (redisAppendCommandArgv(q->c, c->argc, c->argv,
		    c->lens) != REDIS_OK) {
			/* nothing is written yet: dropping the connection
			 * discards the ops appended so far, unsent */
			conn_lost(q, c->argv[0], &te);
			fail_unanswered(ops, oc, n, &te);
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (oc[i].state != OP_PENDING)
			continue;
		void *v = NULL;
		if (redisGetReply(q->c, &v) != REDIS_OK || v == NULL) {
			conn_lost(q, oc[i].c.argv[0], &te);
			fail_unanswered(ops, oc, n, &te);
			return;
		}
		redisReply *r = v;
		if (is_noscript(r)) {
			freeReplyObject(r);
			oc[i].state = OP_NOSCRIPT;
			continue;
		}
		op_answer(&ops[i], &oc[i], r);
	}
	for (size_t i = 0; i < n; i++) {
		if (oc[i].state != OP_NOSCRIPT)
			continue;
		redisReply *r = call_eval(q, &oc[i].c, &ops[i].e);
		if (r != NULL) {
			op_answer(&ops[i], &oc[i], r);
			continue;
		}
		ops[i].rc = ops[i].e.code;
		oc[i].state = OP_DONE;
		if (q->c == NULL) {	/* transport error: the rest fail alike */
			fail_unanswered(ops, oc, n, &ops[i].e);
			return;
		}
	}
}

static int first_failure(const struct queue_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].rc != 0)
			return ops[i].rc;
	return 0;
}

int queue_run(struct queue *q, struct queue_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ops[i].rc = 0;
		ops[i].created = false;
		err_clear(&ops[i].e);
	}
	if (n > QUEUE_BATCH_MAX) {
		for (size_t i = 0; i < n; i++)
			ops[i].rc = err_set(&ops[i].e, APP_ERR_BAD_INPUT,
			    "too many queue operations", "batch of %zu, at most %d",
			    n, (int)QUEUE_BATCH_MAX);
		return first_failure(ops, n);
	}
	if (n == 0)
		return 0;
	struct op_call *oc = xcalloc(n, sizeof *oc);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		ops[i].rc = op_build(q, &ops[i], &oc[i]);
		oc[i].state = ops[i].rc == 0 ? OP_PENDING : OP_UNSENT;
		any = any || ops[i].rc == 0;
	}
	if (any)
		pipeline(q, ops, oc, n);
	free(oc);
	return first_failure(ops, n);
}

/* Runs op as a batch of one; e (may be NULL) gets its error. */
static int run_one(struct queue *q, struct queue_op *op, struct err *e)
{
	int rc = queue_run(q, op, 1);
	if (rc != 0 && e != NULL)
		*e = op->e;
	return rc;
}

int queue_enqueue(struct queue *q, const char *id, const char *payload,
    int64_t delay_ms, int max_attempts, bool *created, struct err *e)
{
	struct queue_op op = { .kind = QUEUE_OP_ENQUEUE, .id = id,
		.payload = payload, .delay_ms = delay_ms,
		.max_attempts = max_attempts };
	int rc = run_one(q, &op, e);
	if (created != NULL)
		*created = op.created;
	return rc;
}

int queue_retry(struct queue *q, struct queue_job *job, int64_t delay_ms,
    const char *reason, struct err *e)
{
	struct queue_op op = { .kind = QUEUE_OP_RETRY, .job = job,
		.delay_ms = delay_ms, .reason = reason };
	return run_one(q, &op, e);
}

int queue_complete(struct queue *q, struct queue_job *job, struct err *e)
{
	struct queue_op op = { .kind = QUEUE_OP_COMPLETE, .job = job };
	return run_one(q, &op, e);
}

int queue_fail(struct queue *q, struct queue_job *job, const char *reason,
    struct err *e)
{
	struct queue_op op = { .kind = QUEUE_OP_FAIL, .job = job,
		.reason = reason };
	return run_one(q, &op, e);
}

int queue_requeue(struct queue *q, const char *id, int64_t delay_ms,
    int max_attempts, struct err *e)
{
	if (!valid_name(id, QUEUE_ID_MAX))
		return err_set(e, APP_ERR_BAD_INPUT, "bad job id", NULL);
	if (delay_ms < 0 || delay_ms > QUEUE_DELAY_MAX_MS || max_attempts < 0)
		return err_set(e, APP_ERR_BAD_INPUT, "bad requeue arguments", NULL);
	char jk[JOBKEY_MAX], d[NUM_MAX], m[NUM_MAX], em[NUM_MAX];
	int rc = job_key(q, id, jk, e);
	if (rc != 0)
		return rc;
	if (fmt_i64(d, delay_ms) != 0 || fmt_i64(m, max_attempts) != 0 ||
	    fmt_i64(em, q->events_max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	const char *keys[] = { jk, q->k_due, q->k_completed, q->k_failed, q->k_events };
	const char *args[] = { id, d, m, em };
	redisReply *r = run_script(q, S_REQUEUE, 5, keys, 4, args, NULL, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	int64_t v;
	if (!reply_i64(r, &v))
		rc = bad_reply(e, "requeue");
	else if (v == 0)
		rc = err_set(e, APP_ERR_NOT_FOUND, "job not found", "job %s", id);
	else if (v < 0)
		rc = err_set(e, APP_ERR_CONFLICT, "job is not finished", "job %s", id);
	freeReplyObject(r);
	return rc;
}

/* Sets one field of out from a HGETALL pair. */
static int set_field(struct queue_job *out, const redisReply *k, const redisReply *v)
{
	if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
		return -1;
	static const struct {
		const char *name;
		size_t off;
		bool is_int;	/* int, else int64_t */
	} nums[] = {
		{ "attempts", offsetof(struct queue_job, attempts), true },
		{ "max_attempts", offsetof(struct queue_job, max_attempts), true },
		{ "stalls", offsetof(struct queue_job, stalls), true },
		{ "token", offsetof(struct queue_job, token), false },
		{ "created_ms", offsetof(struct queue_job, created_ms), false },
		{ "updated_ms", offsetof(struct queue_job, updated_ms), false },
		{ "due_ms", offsetof(struct queue_job, due_ms), false },
		{ "lease_until_ms", offsetof(struct queue_job, lease_until_ms), false },
		{ "finished_ms", offsetof(struct queue_job, finished_ms), false },
	};
	const char *name = k->str;
	if (strcmp(name, "state") == 0)
		return state_parse(v->str, v->len, &out->state);
	if (strcmp(name, "payload") == 0) {
		copy_trunc(out->payload, sizeof out->payload, v->str, v->len);
		out->payload_len = strlen(out->payload);
		return 0;
	}
	if (strcmp(name, "worker") == 0) {
		copy_trunc(out->worker, sizeof out->worker, v->str, v->len);
		return 0;
	}
	if (strcmp(name, "reason") == 0) {
		copy_trunc(out->reason, sizeof out->reason, v->str, v->len);
		return 0;
	}
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		if (strcmp(name, nums[i].name) != 0)
			continue;
		int64_t x;
		if (!reply_i64(v, &x))
			return -1;
		if (nums[i].is_int)
			*(int *)((char *)out + nums[i].off) = clamp_int(x);
		else
			*(int64_t *)((char *)out + nums[i].off) = x;
		return 0;
	}
	return 0;	/* unknown fields (a newer version's) are ignored */
}

int queue_get(struct queue *q, const char *id, struct queue_job *out,
    struct err *e)
{
	if (!valid_name(id, QUEUE_ID_MAX))
		return err_set(e, APP_ERR_BAD_INPUT, "bad job id", NULL);
	char jk[JOBKEY_MAX];
	int rc = job_key(q, id, jk, e);
	if (rc != 0)
		return rc;
	const char *argv[] = { "HGETALL", jk };
	redisReply *r = command(q, 2, argv, NULL, false, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	memset(out, 0, sizeof *out);
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
		rc = bad_reply(e, "get");
		goto out;
	}
	if (r->elements == 0) {
		rc = err_set(e, APP_ERR_NOT_FOUND, "job not found", "job %s", id);
		goto out;
	}
	copy_trunc(out->id, sizeof out->id, id, strlen(id));
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		if (set_field(out, r->element[i], r->element[i + 1]) != 0) {
			rc = bad_reply(e, "get field");
			goto out;
		}
	}
out:
	freeReplyObject(r);
	return rc;
}

int queue_counts(struct queue *q, struct queue_counts *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	const char *keys[] = { q->k_due, q->k_active, q->k_completed, q->k_failed };
	redisReply *r = run_script(q, S_COUNTS, 4, keys, 0, NULL, NULL, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	int64_t v[6];
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
		rc = bad_reply(e, "counts");
		goto out;
	}
	for (size_t i = 0; i < 6; i++) {
		if (!reply_i64(r->element[i], &v[i])) {
			rc = bad_reply(e, "counts");
			goto out;
		}
	}
	out->waiting = v[0];
	out->delayed = v[1];
	out->active = v[2];
	out->stalled = v[3];
	out->completed = v[4];
	out->failed = v[5];
out:
	freeReplyObject(r);
	return rc;
}

int queue_next_due_ms(struct queue *q, int64_t *ms, struct err *e)
{
	*ms = -1;
	const char *keys[] = { q->k_due, q->k_active };
	redisReply *r = run_script(q, S_NEXT_DUE, 2, keys, 0, NULL, NULL, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	if (!reply_i64(r, ms)) {
		*ms = -1;
		rc = bad_reply(e, "next due");
	}
	freeReplyObject(r);
	return rc;
}

static void event_field(struct queue_event *ev, const redisReply *k,
    const redisReply *v)
{
	if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(k->str, "ev") == 0) {
		copy_trunc(ev->ev, sizeof ev->ev, v->str, v->len);
	} else if (strcmp(k->str, "job") == 0) {
		copy_trunc(ev->job, sizeof ev->job, v->str, v->len);
	} else if (strcmp(k->str, "worker") == 0) {
		copy_trunc(ev->worker, sizeof ev->worker, v->str, v->len);
	} else if (strcmp(k->str, "reason") == 0) {
		copy_trunc(ev->reason, sizeof ev->reason, v->str, v->len);
	} else if (strcmp(k->str, "attempt") == 0) {
		int64_t a;
		if (reply_i64(v, &a))
			ev->attempt = clamp_int(a);
	}
}

int queue_events_read(struct queue *q, const char *after, size_t max,
    struct queue_event *out, size_t *n, struct err *e)
{
	*n = 0;
	if (max < 1 || max > QUEUE_CLAIM_MAX || out == NULL)
		return err_set(e, APP_ERR_BAD_INPUT, "bad event count", NULL);
	char start[QUEUE_EVENT_ID_MAX + 1], cnt[NUM_MAX];
	if (after == NULL || after[0] == '\0' || strcmp(after, "0") == 0) {
		memcpy(start, "-", 2);
	} else {
		if (!valid_event_id(after))
			return err_set(e, APP_ERR_BAD_INPUT, "bad event id", NULL);
		int k = snprintf(start, sizeof start, "(%s", after);
		if (k < 0 || (size_t)k >= sizeof start)
			return err_set(e, APP_ERR_BAD_INPUT, "bad event id", NULL);
	}
	if (fmt_i64(cnt, (int64_t)max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "format");
	const char *argv[] = { "XRANGE", q->k_events, start, "+", "COUNT", cnt };
	redisReply *r = command(q, 6, argv, NULL, false, e);
	if (r == NULL)
		return e ? e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements > max) {
		rc = bad_reply(e, "events");
		goto out;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *ent = r->element[i];
		if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
		    ent->element[0]->type != REDIS_REPLY_STRING ||
		    ent->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = bad_reply(e, "event");
			goto out;
		}
		struct queue_event *ev = &out[i];
		memset(ev, 0, sizeof *ev);
		copy_trunc(ev->id, sizeof ev->id, ent->element[0]->str,
		    ent->element[0]->len);
		const redisReply *f = ent->element[1];
		for (size_t j = 0; j + 1 < f->elements; j += 2)
			event_field(ev, f->element[j], f->element[j + 1]);
	}
	*n = r->elements;
out:
	freeReplyObject(r);
	return rc;
}

/* ---- backoff ------------------------------------------------------------- */

void queue_backoff_fixed(struct queue_backoff *b, int64_t base_ms)
{
	memset(b, 0, sizeof *b);
	b->kind = QUEUE_BACKOFF_FIXED;
	b->base_ms = base_ms;
}

int64_t queue_backoff_delay(const struct queue_backoff *b, int attempt,
    int64_t retry_after_ms, uint32_t rnd)
{
	/* Large enough for any real delay, small enough that jitter maths in
	 * double stays exact-ish and sums never overflow. */
	const int64_t limit = (int64_t)1 << 52;
	int64_t base = b->base_ms < 0 ? 0 : (b->base_ms > limit ? limit : b->base_ms);
	int64_t cap = b->cap_ms > 0 && b->cap_ms < limit ? b->cap_ms : limit;
	if (attempt < 1)
		attempt = 1;
	int64_t d = base;
	if (b->kind == QUEUE_BACKOFF_EXPONENTIAL && base > 0) {
		int shift = attempt - 1;
		if (shift >= 62 || base > (limit >> shift))
			d = limit;
		else
			d = base << shift;
	}
	if (d > cap)
		d = cap;
	double j = b->jitter;
	if (!(j > 0.0))
		j = 0.0;	/* also NaN */
	if (j > 1.0)
		j = 1.0;
	double u = (double)rnd / 4294967296.0;	/* [0, 1) */
	d -= (int64_t)((double)d * j * u);
	if (retry_after_ms >= 0) {
		int64_t ra = retry_after_ms;
		if (b->retry_after_max_ms > 0 && ra > b->retry_after_max_ms)
			ra = b->retry_after_max_ms;
		if (ra > limit)
			ra = limit;
		if (d < ra)
			d = ra;
	}
	return d < 0 ? 0 : d;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" -> epoch seconds. */
static int parse_imf_fixdate(const char *s, size_t n, int64_t *sec)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const char days[] = "MonTueWedThuFriSatSun";
	if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' ||
	    memcmp(s + 26, "GMT", 3) != 0)
		return -1;
	bool dayok = false;
	for (int i = 0; i < 7; i++)
		if (memcmp(s, days + 3 * i, 3) == 0)
			dayok = true;
	int mon = 0;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, months + 3 * i, 3) == 0)
			mon = i + 1;
	int day, year, hh, mm, ss;
	if (!dayok || mon == 0 || !digits(s + 5, 2, &day) || !digits(s + 12, 4, &year) ||
	    !digits(s + 17, 2, &hh) || !digits(s + 20, 2, &mm) ||
	    !digits(s + 23, 2, &ss))
		return -1;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	*sec = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

int queue_retry_after_parse(const char *value, int64_t now_epoch_ms, int64_t *ms)
{
	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	size_t n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	if (n == 0)
		return -1;
	if (value[0] >= '0' && value[0] <= '9') {
		/* delta-seconds; more than 12 digits (31,000 years) is nonsense */
		if (n > 12)
			return -1;
		int64_t s = 0;
		for (size_t i = 0; i < n; i++) {
			if (value[i] < '0' || value[i] > '9')
				return -1;
			s = s * 10 + (value[i] - '0');
		}
		*ms = s * 1000;
		return 0;
	}
	int64_t sec;
	if (parse_imf_fixdate(value, n, &sec) != 0)
		return -1;
	int64_t d = sec * 1000 - now_epoch_ms;
	*ms = d > 0 ? d : 0;
	return 0;
}
