/* poolcap without a PgBouncer (nothing can be evicted, so a full table
 * waits and times out), and pgbouncer_db_line's quoting.  Eviction through
 * PgBouncer's console is covered by tests/integration/pool.test.mjs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pgbouncer.h"
#include "poolcap.h"
#include "sbuf.h"
#include "testlib.h"

static char path[64];

static struct poolcap *open_cap(int cap, int per_tenant, int wait_ms)
{
	struct poolcap_opts o = { path, cap, per_tenant, wait_ms };
	struct err e;
	struct poolcap *p = poolcap_open(&o, NULL, &e);
	if (p == NULL)
		fprintf(stderr, "  poolcap_open: %s\n", e.detail);
	return p;
}

static void fresh(void)
{
	snprintf(path, sizeof path, "/tmp/test_poolcap.%ld", (long)getpid());
	poolcap_reset(path);
}

static void t_reserve_and_release(void)
{
	fresh();
	struct poolcap *p = open_cap(3, 2, 0);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	struct err e;
	int sa, sb, sa2;
	uint32_t ga, gb, ga2;
	CHECK_INT_EQ(poolcap_enter(p, "a", -1, &sa, &ga, &e), 0);
	CHECK_INT_EQ(poolcap_enter(p, "b", -1, &sb, &gb, &e), 0);
	CHECK(ga != gb);
	/* a second use of "a" at once reserves its second connection */
	CHECK_INT_EQ(poolcap_enter(p, "a", sa, &sa2, &ga2, &e), 0);
	CHECK_INT_EQ(sa2, sa);
	CHECK(ga2 == ga);
	struct poolcap_stats st;
	poolcap_stats(p, &st);
	CHECK_INT_EQ(st.reserved, 3);
	CHECK_INT_EQ(st.tenants, 2);
	CHECK_INT_EQ(st.in_use, 3);
	/* full, and nothing can be evicted: a newcomer times out */
	int sc;
	uint32_t gc;
	CHECK_INT_EQ(poolcap_enter(p, "c", -1, &sc, &gc, &e), APP_ERR_BUSY);
	CHECK(strstr(e.msg, "busy") != NULL);
	/* a third use of "a" is past per_tenant: PgBouncer queues it on the
	 * two it has, so no room is needed */
	int sa3;
	uint32_t ga3;
	CHECK_INT_EQ(poolcap_enter(p, "a", sa, &sa3, &ga3, &e), 0);
	poolcap_exit(p, sa3, ga3);
	poolcap_exit(p, sa, ga);
	poolcap_exit(p, sa2, ga2);
	poolcap_exit(p, sb, gb);
	poolcap_exit(p, sb, gb);	/* once too often: ignored */
	poolcap_stats(p, &st);
	CHECK_INT_EQ(st.in_use, 0);
	CHECK_INT_EQ(st.reserved, 3);	/* room stays reserved until evicted */
	CHECK_INT_EQ(st.timeouts, 1);
	/* reuse without new room */
	CHECK_INT_EQ(poolcap_enter(p, "b", sb, &sb, &gb, &e), 0);
	poolcap_exit(p, sb, gb);
	poolcap_close(p);
	poolcap_reset(path);
}

static void t_per_tenant_cap(void)
{
	fresh();
	struct poolcap *p = open_cap(10, 2, 0);
	if (p == NULL) {
		CHECK(p != NULL);
		return;
	}
	struct err e;
	int s[4];
	uint32_t g[4];
	for (int i = 0; i < 4; i++)
		CHECK_INT_EQ(poolcap_enter(p, "t", -1, &s[i], &g[i], &e), 0);
	struct poolcap_stats st;
	poolcap_stats(p, &st);
	/* four uses, but PgBouncer opens at most pool_size = 2 */
	CHECK_INT_EQ(st.reserved, 2);
	CHECK_INT_EQ(st.in_use, 4);
	for (int i = 0; i < 4; i++)
		poolcap_exit(p, s[i], g[i]);
	poolcap_close(p);
	poolcap_reset(path);
}

static void t_shared_between_processes(void)
{
	fresh();
	struct poolcap *p = open_cap(2, 1, 0);
	if (p == NULL) {
		CHECK(p != NULL);
		return;
	}
	struct err e;
	int s;
	uint32_t g;
	CHECK_INT_EQ(poolcap_enter(p, "x", -1, &s, &g, &e), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* another process maps the same file and sees x's room taken */
		struct poolcap *q = open_cap(2, 1, 0);
		int rc = q == NULL ? 10 : 0;
		int s2, s3;
		uint32_t g2, g3;
		if (rc == 0 && poolcap_enter(q, "y", -1, &s2, &g2, &e) != 0)
			rc = 11;
		if (rc == 0 && poolcap_enter(q, "z", -1, &s3, &g3, &e) != APP_ERR_BUSY)
			rc = 12;
		_exit(rc);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK_INT_EQ(WEXITSTATUS(st), 0);
	struct poolcap_stats ps;
	poolcap_stats(p, &ps);
	CHECK_INT_EQ(ps.reserved, 2);
	CHECK_INT_EQ(ps.in_use, 2);	/* the child's use leaked: it died inside */
	poolcap_close(p);
	poolcap_reset(path);
}

static void t_bad_settings(void)
{
	fresh();
	struct poolcap_opts o = { path, 2, 3, 0 };
	struct err e;
	CHECK(poolcap_open(&o, NULL, &e) == NULL);
	struct poolcap *p = open_cap(4, 1, 0);
	if (p == NULL) {
		CHECK(p != NULL);
		return;
	}
	int s;
	uint32_t g;
	CHECK_INT_EQ(poolcap_enter(p, "not a tenant id!", -1, &s, &g, &e),
	    APP_ERR_NOT_FOUND);
	poolcap_close(p);
	poolcap_reset(path);
}

static void t_db_line_quoting(void)
{
	struct sbuf sb;
	sbuf_init(&sb, 0);
	CHECK_INT_EQ(pgbouncer_db_line(&sb, "tenant-a", "db.example", "5432", "tenantA",
	    "o'brien", "p w'#;\\", 4), 0);
	CHECK_STR_EQ(sb.p, "tenant-a = host='db.example' port='5432' dbname='tenantA' "
	    "user='o''brien' password='p w''#;\\' pool_size=4 max_db_connections=4\n");
	size_t len = sb.len;
	/* a line break would end the entry: refused, nothing written */
	CHECK_INT_EQ(pgbouncer_db_line(&sb, "t", "h", "1", "d", "u", "a\nb", 1), -1);
	CHECK_INT_EQ(sb.len, len);
	CHECK_INT_EQ(pgbouncer_db_line(&sb, "bad name", "h", "1", "d", "u", "p", 1), -1);
	CHECK_INT_EQ(pgbouncer_db_line(&sb, "t", "h", "1", "d", "u", "p", 0), -1);
	CHECK_INT_EQ(sb.len, len);
	sbuf_clear(&sb);
}

TEST_MAIN(
	{ "reserve_and_release", t_reserve_and_release },
	{ "per_tenant_cap", t_per_tenant_cap },
	{ "shared_between_processes", t_shared_between_processes },
	{ "bad_settings", t_bad_settings },
	{ "db_line_quoting", t_db_line_quoting },
)
