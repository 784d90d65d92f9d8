#include "health.h"

#include <stdbool.h>
#include <string.h>

#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "redisc.h"
#include "sbuf.h"

struct probe {
	const char *name;
	bool ok;
	int64_t ms;
	struct err e;
};

static void probe_master(struct deps *d, struct probe *p)
{
	struct db *db = deps_master(d, &p->e);
	if (db == NULL)
		return;
	PGresult *res = db_exec(db, "select 1", 0, NULL, "health_probe", &p->e);
	p->ok = res != NULL;
	PQclear(res);
}

static void probe_redis(struct deps *d, struct probe *p)
{
	redisContext *c = deps_redis(d, &p->e);
	if (c == NULL)
		return;
	p->ok = redisc_ping(c, &p->e) == 0;
	if (!p->ok)
		deps_redis_broken(d);
}

static void probe_kafka(struct deps *d, struct probe *p)
{
	struct kafka_producer *k = deps_kafka(d, &p->e);
	if (k == NULL)
		return;
	p->ok = kafka_ping(k, cfg()->dep_timeout_ms, &p->e) == 0;
}

void health_handle(struct http_req *r, struct deps *d)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		http_respond_error(r, 405, APP_ERR_BAD_INPUT, "use GET", "Allow: GET, HEAD\r\n");
		return;
	}
	struct probe probes[] = {
		{ .name = "master_db" }, { .name = "redis" }, { .name = "kafka" },
	};
	void (*fns[])(struct deps *, struct probe *) = {
		probe_master, probe_redis, probe_kafka,
	};
	bool all_ok = true;
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		int64_t t0 = clock_mono_us();
		err_clear(&probes[i].e);
		fns[i](d, &probes[i]);
		probes[i].ms = (clock_mono_us() - t0) / 1000;
		if (!probes[i].ok) {
			all_ok = false;
			log_kv(LOG_WARN, "health_probe_failed", "dep", probes[i].name,
			    "err", probes[i].e.detail, NULL);
		}
	}
	struct sbuf sb;
	sbuf_init(&sb, 0);
	sbuf_printf(&sb, "{\"status\":\"%s\",\"checks\":{", all_ok ? "ok" : "degraded");
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		const struct probe *p = &probes[i];
		sbuf_printf(&sb, "%s\"%s\":{\"ok\":%s,\"ms\":%lld", i ? "," : "",
		    p->name, p->ok ? "true" : "false", (long long)p->ms);
		if (!p->ok) {
			/* The public message only: details stay in the log. */
			sbuf_puts(&sb, ",\"error\":");
			sbuf_json_str(&sb, p->e.msg, strlen(p->e.msg));
		}
		sbuf_putc(&sb, '}');
	}
	sbuf_puts(&sb, "}}");
	http_respond(r, all_ok ? 200 : 503, "application/json; charset=utf-8",
	    "Cache-Control: no-store\r\n", sb.p, sb.len);
	sbuf_clear(&sb);
}
