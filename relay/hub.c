/* hub: who gets which event.
 *
 * Index: a hash table (tenant, user id) -> the user's subscriptions on every
 * connection, so an event costs one lookup plus its own subscribers, never a
 * scan of all connections.  A user node exists while it has subscriptions
 * (idle connections cost nothing here).
 *
 * Events: report.progress and report.ready carry the public view of a report
 * (see README.md, "Subscriptions").  Each is validated; an invalid one is
 * logged (ev=event_invalid, without the payload) and skipped.
 *   - reportReady subscribers get report.ready events:
 *       {"reportID","status","fileURL","progress","error"}
 *   - reportProgress subscribers get report.progress AND report.ready events
 *     (the terminal state is a progress change too) as Report objects;
 *     reportProgress(id: X) completes after X's terminal state.
 * Ordering: the two topics are consumed independently, so a late
 * report.progress may arrive after report.ready, and duplicates happen (the
 * producers are at-least-once).  A small table of recent reports (LRU,
 * REPORT_STATE_MAX entries) keeps what was delivered: progress never goes
 * down, nothing follows the terminal state, report.ready is delivered once. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonh.h"
#include "kafka.h"
#include "log.h"
#include "relay.h"
#include "reportdef.h"

enum {
	REPORT_STATE_MAX = 16384,	/* reports remembered for ordering */
	EVENT_MAX_DEPTH = 8,
	INDEX_MIN_BUCKETS = 1024,
};

struct relay_user {
	struct relay_user *hnext;
	struct relay_sub *subs;
	long long user_id;
	uint32_t hash;
	char tenant[TOKEN_TENANT_MAX];
};

struct rstate {
	struct rstate *hnext, *lprev, *lnext;
	int64_t report_id;
	int progress;
	bool terminal;		/* the terminal state went to reportProgress */
	bool ready_sent;	/* report.ready went to reportReady */
	uint32_t hash;
	char tenant[TOKEN_TENANT_MAX];
};

static struct {
	struct relay_user **ub;
	size_t unb, ucount;
	struct rstate *rb[REPORT_STATE_MAX];	/* buckets = max entries */
	struct rstate *lru_head, *lru_tail;
	size_t rcount;
	struct arena *ev_arena;
} H;

static uint32_t hash_key(const char *tenant, size_t tl, uint64_t n)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	for (size_t i = 0; i < tl; i++)
		h = (h ^ (unsigned char)tenant[i]) * 16777619u;
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint32_t)((n >> (i * 8)) & 0xff)) * 16777619u;
	return h;
}

/* ---- the index ---------------------------------------------------------- */

static struct relay_user *user_find(const char *tenant, size_t tl, long long uid,
    uint32_t h)
{
	if (H.unb == 0)
		return NULL;
	for (struct relay_user *u = H.ub[h & (H.unb - 1)]; u != NULL; u = u->hnext)
		if (u->hash == h && u->user_id == uid && strlen(u->tenant) == tl &&
		    memcmp(u->tenant, tenant, tl) == 0)
			return u;
	return NULL;
}

static void index_grow(void)
{
	size_t nb = H.unb ? H.unb * 2 : INDEX_MIN_BUCKETS;
	struct relay_user **b = calloc(nb, sizeof *b);
	if (b == NULL)
		abort();
	for (size_t i = 0; i < H.unb; i++) {
		struct relay_user *u = H.ub[i];
		while (u != NULL) {
			struct relay_user *next = u->hnext;
			u->hnext = b[u->hash & (nb - 1)];
			b[u->hash & (nb - 1)] = u;
			u = next;
		}
	}
	free(H.ub);
	H.ub = b;
	H.unb = nb;
}

void relay_hub_add(struct relay_sub *s)
{
	struct relay_conn *c = s->conn;
	size_t tl = strlen(c->tenant);
	uint32_t h = hash_key(c->tenant, tl, (uint64_t)c->user_id);
	struct relay_user *u = user_find(c->tenant, tl, c->user_id, h);
	if (u == NULL) {
		if (H.ucount >= H.unb)
			index_grow();
		u = calloc(1, sizeof *u);
		if (u == NULL)
			abort();
		memcpy(u->tenant, c->tenant, tl + 1);
		u->user_id = c->user_id;
		u->hash = h;
		u->hnext = H.ub[h & (H.unb - 1)];
		H.ub[h & (H.unb - 1)] = u;
		H.ucount++;
	}
	s->user = u;
	s->uprev = NULL;
	s->unext = u->subs;
	if (u->subs != NULL)
		u->subs->uprev = s;
	u->subs = s;
	s->cnext = c->subs;
	c->subs = s;
	c->nsubs++;
}

void relay_hub_remove(struct relay_sub *s)
{
	struct relay_user *u = s->user;
	if (s->uprev != NULL)
		s->uprev->unext = s->unext;
	else
		u->subs = s->unext;
	if (s->unext != NULL)
		s->unext->uprev = s->uprev;
	if (u->subs == NULL) {
		struct relay_user **pp = &H.ub[u->hash & (H.unb - 1)];
		while (*pp != u)
			pp = &(*pp)->hnext;
		*pp = u->hnext;
		H.ucount--;
		free(u);
	}
	struct relay_conn *c = s->conn;
	struct relay_sub **cp = &c->subs;
	while (*cp != NULL && *cp != s)
		cp = &(*cp)->cnext;
	if (*cp == s) {
		*cp = s->cnext;
		c->nsubs--;
	}
	arena_free(s->arena);
	free(s);
}

/* ---- recent reports ----------------------------------------------------- */

static void lru_unlink(struct rstate *r)
{
	if (r->lprev != NULL)
		r->lprev->lnext = r->lnext;
	else
		H.lru_head = r->lnext;
	if (r->lnext != NULL)
		r->lnext->lprev = r->lprev;
	else
		H.lru_tail = r->lprev;
	r->lprev = r->lnext = NULL;
}

static void lru_push(struct rstate *r)
{
	r->lnext = H.lru_head;
	if (H.lru_head != NULL)
		H.lru_head->lprev = r;
	H.lru_head = r;
	if (H.lru_tail == NULL)
		H.lru_tail = r;
}

static void rstate_drop(struct rstate *r)
{
	struct rstate **pp = &H.rb[r->hash % REPORT_STATE_MAX];
	while (*pp != r)
		pp = &(*pp)->hnext;
	*pp = r->hnext;
	lru_unlink(r);
	H.rcount--;
	free(r);
}

static struct rstate *rstate_get(const char *tenant, size_t tl, int64_t rid)
{
	uint32_t h = hash_key(tenant, tl, (uint64_t)rid);
	struct rstate *r;
	for (r = H.rb[h % REPORT_STATE_MAX]; r != NULL; r = r->hnext)
		if (r->hash == h && r->report_id == rid && strlen(r->tenant) == tl &&
		    memcmp(r->tenant, tenant, tl) == 0)
			break;
	if (r != NULL) {
		lru_unlink(r);
		lru_push(r);
		return r;
	}
	if (H.rcount >= REPORT_STATE_MAX)
		rstate_drop(H.lru_tail);
	r = calloc(1, sizeof *r);
	if (r == NULL)
		abort();
	memcpy(r->tenant, tenant, tl);
	r->tenant[tl] = '\0';
	r->report_id = rid;
	r->progress = -1;
	r->hash = h;
	r->hnext = H.rb[h % REPORT_STATE_MAX];
	H.rb[h % REPORT_STATE_MAX] = r;
	lru_push(r);
	H.rcount++;
	return r;
}

/* ---- events ------------------------------------------------------------- */

struct event {
	json_object *o;
	const char *tenant;
	size_t tenant_len;
	int64_t report_id, user_id, progress;
	const char *status;
	bool terminal;
};

static bool opt_string(json_object *o, const char *key)
{
	json_object *v = NULL;
	return !json_object_object_get_ex(o, key, &v) || v == NULL ||
	    json_object_is_type(v, json_type_string);
}

static bool valid_providers(json_object *o)
{
	json_object *a = NULL;
	if (!json_object_object_get_ex(o, "providers", &a) || a == NULL)
		return true;
	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > 16)
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *p = json_object_array_get_idx(a, i);
		int64_t n;
		if (!json_object_is_type(p, json_type_object) ||
		    jsonh_str(p, "name", NULL) == NULL || jsonh_str(p, "status", NULL) == NULL ||
		    !jsonh_int(p, "attempts", &n) || !opt_string(p, "error"))
			return false;
	}
	return true;
}

/* Fills ev from o; returns NULL or the reason it is invalid. */
static const char *event_check(json_object *o, bool ready, struct event *ev)
{
	if (!json_object_is_type(o, json_type_object))
		return "not an object";
	ev->o = o;
	ev->tenant = jsonh_str(o, "tenantID", &ev->tenant_len);
	if (ev->tenant == NULL || ev->tenant_len == 0 ||
	    ev->tenant_len >= TOKEN_TENANT_MAX || strlen(ev->tenant) != ev->tenant_len)
		return "bad tenantID";
	if (!jsonh_int(o, "reportID", &ev->report_id) || ev->report_id < 1 ||
	    ev->report_id > INT32_MAX)
		return "bad reportID";
	if (!jsonh_int(o, "userID", &ev->user_id) || ev->user_id < 1)
		return "bad userID";
	if (!jsonh_int(o, "progress", &ev->progress) || ev->progress < 0 ||
	    ev->progress > 100)
		return "bad progress";
	ev->status = jsonh_str(o, "status", NULL);
	if (ev->status == NULL)
		return "bad status";
	ev->terminal = strcmp(ev->status, REPORT_COMPLETED) == 0 ||
	    strcmp(ev->status, REPORT_FAILED) == 0;
	if (!ev->terminal && strcmp(ev->status, REPORT_PENDING) != 0 &&
	    strcmp(ev->status, REPORT_IN_PROGRESS) != 0)
		return "bad status";
	if (ready && !ev->terminal)
		return "report.ready with a status that is not final";
	if (!opt_string(o, "fileURL") || !opt_string(o, "error") ||
	    !opt_string(o, "createdAt") || !opt_string(o, "completedAt"))
		return "bad fileURL, error, createdAt or completedAt";
	if (!valid_providers(o))
		return "bad providers";
	return NULL;
}

static json_object *member_or_null(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(o, key, &v) && v != NULL)
		return json_object_get(v);
	return NULL;
}

/* {"reportReady": {reportID, status, fileURL, progress, error}} */
static json_object *ready_root(const struct event *ev)
{
	json_object *v = json_object_new_object();
	json_object_object_add(v, "reportID", json_object_new_int64(ev->report_id));
	json_object_object_add(v, "status", json_object_new_string(ev->status));
	json_object_object_add(v, "fileURL", member_or_null(ev->o, "fileURL"));
	json_object_object_add(v, "progress", json_object_new_int64(ev->progress));
	json_object_object_add(v, "error", member_or_null(ev->o, "error"));
	json_object *root = json_object_new_object();
	json_object_object_add(root, "reportReady", v);
	return root;
}

static json_object *progress_root(const struct event *ev)
{
	json_object *root = json_object_new_object();
	json_object_object_add(root, "reportProgress", json_object_get(ev->o));
	return root;
}

static void deliver(struct relay_sub *s, json_object *root)
{
	if (H.ev_arena == NULL)
		H.ev_arena = arena_new(0);
	struct gql_exec_opts opts = { .omit_nulls = false };
	json_object *resp = gql_execute_prepared(s->prep, s->conn, root, &opts, H.ev_arena);
	json_object *m = json_object_new_object();
	json_object_object_add(m, "id", json_object_new_string(s->id));
	json_object_object_add(m, "type", json_object_new_string("next"));
	json_object_object_add(m, "payload", resp);
	size_t n;
	const char *text = json_object_to_json_string_length(m,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	relay_conn_send(s->conn, text, n);
	json_object_put(m);
	arena_reset(H.ev_arena);
}

static void complete(struct relay_sub *s)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "id", json_object_new_string(s->id));
	json_object_object_add(m, "type", json_object_new_string("complete"));
	size_t n;
	const char *text = json_object_to_json_string_length(m,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	relay_conn_send(s->conn, text, n);
	json_object_put(m);
	struct log_line l;
	log_begin(&l, LOG_INFO, "sub_complete");
	log_int(&l, "conn", s->conn->id);
	log_str(&l, "tenant", s->conn->tenant);
	log_int(&l, "user", s->conn->user_id);
	log_str(&l, "sub", s->id);
	log_str(&l, "by", "server");
	log_end(&l);
	relay_hub_remove(s);
}

void relay_hub_event(const char *topic, const char *key, size_t key_len,
    const char *payload, size_t len)
{
	bool ready = strcmp(topic, KAFKA_TOPIC_READY) == 0;
	const char *why = NULL;
	struct event ev;
	memset(&ev, 0, sizeof ev);
	json_object *o = jsonh_parse(payload, len, EVENT_MAX_DEPTH, &why);
	if (o != NULL)
		why = event_check(o, ready, &ev);
	if (why == NULL && key != NULL &&
	    (key_len != ev.tenant_len || memcmp(key, ev.tenant, key_len) != 0))
		why = "key is not the tenantID";
	if (why != NULL) {
		struct log_line l;
		log_begin(&l, LOG_WARN, "event_invalid");
		log_str(&l, "topic", topic);
		log_str(&l, "err", why);
		log_int(&l, "bytes", (long long)len);
		log_end(&l);
		json_object_put(o);
		return;
	}

	struct rstate *r = rstate_get(ev.tenant, ev.tenant_len, ev.report_id);
	bool to_progress = !r->terminal && ev.progress >= r->progress;
	if (to_progress) {
		r->progress = (int)ev.progress;
		r->terminal = ev.terminal;
	}
	bool to_ready = ready && !r->ready_sent;
	if (ready)
		r->ready_sent = true;

	int delivered = 0;
	uint32_t h = hash_key(ev.tenant, ev.tenant_len, (uint64_t)ev.user_id);
	struct relay_user *u = (to_progress || to_ready) ?
	    user_find(ev.tenant, ev.tenant_len, ev.user_id, h) : NULL;
	json_object *rr = NULL, *pr = NULL;
	struct relay_sub *next;
	for (struct relay_sub *s = u ? u->subs : NULL; s != NULL; s = next) {
		next = s->unext;
		if (s->conn->close_code != 0)
			continue;
		if (s->kind == RELAY_SUB_READY) {
			if (!to_ready)
				continue;
			if (rr == NULL)
				rr = ready_root(&ev);
			deliver(s, rr);
		} else {
			if (!to_progress || (s->report_id != RELAY_REPORT_ANY &&
			    s->report_id != ev.report_id))
				continue;
			if (pr == NULL)
				pr = progress_root(&ev);
			deliver(s, pr);
			if (s->report_id != RELAY_REPORT_ANY && ev.terminal)
				complete(s);
		}
		delivered++;
	}
	if (log_enabled(LOG_DEBUG)) {
		struct log_line l;
		log_begin(&l, LOG_DEBUG, "event");
		log_str(&l, "topic", topic);
		log_strn(&l, "tenant", ev.tenant, ev.tenant_len);
		log_int(&l, "report", ev.report_id);
		log_int(&l, "user", ev.user_id);
		log_str(&l, "status", ev.status);
		log_int(&l, "progress", ev.progress);
		log_int(&l, "delivered", delivered);
		log_end(&l);
	}
	json_object_put(rr);
	json_object_put(pr);
	json_object_put(o);
}

void relay_hub_free(void)
{
	for (size_t i = 0; i < H.unb; i++) {
		struct relay_user *u = H.ub[i];
		while (u != NULL) {
			struct relay_user *next = u->hnext;
			free(u);
			u = next;
		}
	}
	free(H.ub);
	H.ub = NULL;
	H.unb = H.ucount = 0;
	while (H.lru_head != NULL)
		rstate_drop(H.lru_head);
	arena_free(H.ev_arena);
	H.ev_arena = NULL;
}
