#include "pgbouncer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cfg.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "tenant.h"
#include "xalloc.h"

enum {
	SIG_MAX = 96,			/* "count|updated_at" of the registry */
	FILE_MAX = 64 * 1024 * 1024,	/* largest databases file written */
	LINE_MAX_BYTES = 2048,
};

struct pgbouncer {
	struct pgbouncer_opts o;	/* strings below are owned copies */
	PGconn *admin;
	char synced_sig[SIG_MAX];	/* registry signature of the last sync */
};

static const char sql_all_tenants[] =
    "SELECT tenant_id, db_host, db_port::text, db_user, db_name,"
    " db_password_enc FROM tenants ORDER BY tenant_id";
static const char sql_signature[] =
    "SELECT count(*)::text || '|' || coalesce(max(updated_at)::text, '')"
    " FROM tenants";

void pgbouncer_opts_from_cfg(struct pgbouncer_opts *o, const struct config *c)
{
	memset(o, 0, sizeof *o);
	o->host = c->pool_host;
	o->port = c->pool_port;
	o->user = c->pool_user;
	o->password = c->pool_password;
	o->databases_file = c->pool_databases_file;
	o->per_tenant = c->pool_tenant_servers;
	o->connect_timeout_ms = c->dep_timeout_ms;
}

bool pgbouncer_configured(const struct pgbouncer_opts *o)
{
	return o != NULL && o->host != NULL && o->host[0] != '\0';
}

static const char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

struct pgbouncer *pgbouncer_new(const struct pgbouncer_opts *o)
{
	struct pgbouncer *b = xcalloc(1, sizeof *b);
	b->o = *o;
	b->o.host = dup_or_empty(o->host);
	b->o.port = dup_or_empty(o->port);
	b->o.user = dup_or_empty(o->user);
	b->o.password = dup_or_empty(o->password);
	b->o.databases_file = dup_or_empty(o->databases_file);
	return b;
}

void pgbouncer_free(struct pgbouncer *b)
{
	if (b == NULL)
		return;
	PQfinish(b->admin);
	free((char *)b->o.host);
	free((char *)b->o.port);
	free((char *)b->o.user);
	crypto_wipe((char *)b->o.password, strlen(b->o.password));
	free((char *)b->o.password);
	free((char *)b->o.databases_file);
	free(b);
}

const struct pgbouncer_opts *pgbouncer_opts(const struct pgbouncer *b)
{
	return &b->o;
}

static int admin_open(struct pgbouncer *b, struct err *e)
{
	if (b->admin != NULL && PQstatus(b->admin) == CONNECTION_OK)
		return 0;
	PQfinish(b->admin);
	struct db_target t = { b->o.host, b->o.port, b->o.user, b->o.password,
	    "pgbouncer" };
	b->admin = db_connect(&t, b->o.connect_timeout_ms, "reportsvc-pool", e);
	return b->admin ? 0 : APP_ERR_UNAVAILABLE;
}

int pgbouncer_command(struct pgbouncer *b, const char *verb, const char *db,
    struct err *e)
{
	static const char *const verbs[] = { "KILL", "RESUME", "RELOAD",
	    "RECONNECT" };
	bool known = false;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		known = known || strcmp(verb, verbs[i]) == 0;
	if (!known || (db != NULL && !tenant_id_valid(db)))
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "pgbouncer: bad admin command");
	/* The admin console takes simple queries only, and no parameters: the
	 * database name is a tenant ID ([A-Za-z0-9_-]), double-quoted. */
	char cmd[PGBOUNCER_DBNAME_MAX + 32];
	int n = db ? snprintf(cmd, sizeof cmd, "%s \"%s\"", verb, db) :
	    snprintf(cmd, sizeof cmd, "%s", verb);
	if (n < 0 || (size_t)n >= sizeof cmd)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "pgbouncer: command too long");
	for (int attempt = 0; attempt < 2; attempt++) {
		if (admin_open(b, e) != 0)
			return APP_ERR_UNAVAILABLE;
		PGresult *r = PQexec(b->admin, cmd);
		if (PQresultStatus(r) == PGRES_COMMAND_OK ||
		    PQresultStatus(r) == PGRES_TUPLES_OK) {
			PQclear(r);
			return 0;
		}
		bool conn_err = db_conn_failed(b->admin, r);
		/* The console has no SQLSTATE of its own for this (08P01 is
		 * every console error): its message is all there is. */
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		bool unknown = msg != NULL && strncmp(msg, "no such database", 16) == 0;
		db_fail(b->admin, r, cmd, NULL, e);
		PQclear(r);
		if (unknown)
			return err_set(e, APP_ERR_NOT_FOUND, "database unavailable",
			    "pgbouncer %s: no such database %s", verb, db ? db : "");
		if (!conn_err)
			return err_set(e, APP_ERR_UNAVAILABLE, "database unavailable",
			    "pgbouncer %s: %s", verb, e ? e->detail : "");
		PQfinish(b->admin);
		b->admin = NULL;
	}
	return APP_ERR_UNAVAILABLE;
}

/* Appends s as a connection-string value as PgBouncer reads it (loader.c):
 * single-quoted, a quote doubled, nothing else special.  false if s holds a control
 * character (a line break would end the entry). */
static bool put_value(struct sbuf *sb, const char *s)
{
	sbuf_putc(sb, '\'');
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == '\'')
			sbuf_putc(sb, '\'');
		sbuf_putc(sb, (char)c);
	}
	sbuf_putc(sb, '\'');
	return true;
}

int pgbouncer_db_line(struct sbuf *sb, const char *name, const char *host,
    const char *port, const char *dbname, const char *user,
    const char *password, int pool_size)
{
	if (!tenant_id_valid(name) || strlen(name) >= PGBOUNCER_DBNAME_MAX ||
	    pool_size < 1)
		return -1;
	size_t mark = sb->len;
	bool ok = true;
	sbuf_printf(sb, "%s = host=", name);
	ok = ok && put_value(sb, host);
	sbuf_puts(sb, " port=");
	ok = ok && put_value(sb, port);
	sbuf_puts(sb, " dbname=");
	ok = ok && put_value(sb, dbname);
	sbuf_puts(sb, " user=");
	ok = ok && put_value(sb, user);
	sbuf_puts(sb, " password=");
	ok = ok && put_value(sb, password);
	sbuf_printf(sb, " pool_size=%d max_db_connections=%d\n", pool_size,
	    pool_size);
	if (!ok || sb->failed) {
		crypto_wipe(sb->p + mark, sb->len - mark);
		sb->len = mark;
		if (sb->p != NULL)
			sb->p[mark] = '\0';
		return -1;
	}
	return 0;
}

/* Writes data to path through a temporary file in the same directory,
 * fsynced, then renamed over path.  The file keeps the owner, group and
 * mode the existing one has (so PgBouncer, which may run as another user,
 * can still read it), but never more than 0640: never world-readable; a new
 * file is 0600.  0 or -1 (errno). */
static int write_file(const char *path, const char *data, size_t n)
{
	char tmp[4096];
	int len = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (len < 0 || (size_t)len >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct stat st;
	if (stat(path, &st) == 0) {
		/* Only root may give the file away; others keep their own. */
		if (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
			log_kv(LOG_WARN, "pool_file_owner_kept", "path", path, NULL);
		if (fchmod(fd, st.st_mode & 0640) != 0) {
			int saved = errno;
			close(fd);
			unlink(tmp);
			errno = saved;
			return -1;
		}
	}
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int saved = errno;
	if (off != n || fsync(fd) != 0) {
		saved = off != n ? saved : errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* The registry's signature: its row count and newest updated_at. */
static int signature(struct db *master, char *out, size_t size, struct err *e)
{
	PGresult *r = db_exec(master, sql_signature, 0, NULL, "tenant signature", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	int n = snprintf(out, size, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
	return 0;
}

/* Writes the file and reloads; sig: the registry's signature, read just
 * before. */
static int sync_with(struct pgbouncer *b, struct db *master,
    const struct crypto_keys *keys, const char *sig, int *count, struct err *e)
{
	if (count != NULL)
		*count = 0;
	int rc;
	PGresult *r = db_exec(master, sql_all_tenants, 0, NULL, "tenant list", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	struct sbuf sb;
	sbuf_init(&sb, FILE_MAX);
	sbuf_puts(&sb, "; Written by the report service from the tenant registry"
	    " (lib/pgbouncer.c).\n; Do not edit: it is rewritten on every change."
	    "\n[databases]\n");
	int written = 0, skipped = 0;
	char password[TENANT_PASSWORD_MAX + 1];
	for (int i = 0; i < PQntuples(r); i++) {
		const char *tid = PQgetvalue(r, i, 0);
		size_t plen;
		if (keys == NULL || crypto_open(keys, PQgetvalue(r, i, 5), password,
		    sizeof password, &plen, NULL) != 0 ||
		    pgbouncer_db_line(&sb, tid, PQgetvalue(r, i, 1),
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 4), PQgetvalue(r, i, 3),
		    password, b->o.per_tenant) != 0) {
			log_kv(LOG_ERROR, "pool_sync_tenant_skipped", "tenant", tid,
			    "why", "password cannot be opened or written", NULL);
			skipped++;
		} else {
			written++;
		}
		crypto_wipe(password, sizeof password);
	}
	PQclear(r);
	if (sb.failed) {
		sbuf_clear(&sb);
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "pool sync: databases file larger than %d bytes", FILE_MAX);
	}
	int wr = write_file(b->o.databases_file, sb.p, sb.len);
	int saved = errno;
	crypto_wipe(sb.p, sb.len);
	sbuf_clear(&sb);
	if (wr != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "pool sync: cannot write %s: %s", b->o.databases_file,
		    strerror(saved));
	if ((rc = pgbouncer_command(b, "RELOAD", NULL, e)) != 0)
		return rc;
	snprintf(b->synced_sig, sizeof b->synced_sig, "%s", sig);
	struct log_line l;
	log_begin(&l, LOG_INFO, "pool_synced");
	log_int(&l, "tenants", written);
	log_int(&l, "skipped", skipped);
	log_end(&l);
	if (count != NULL)
		*count = written;
	return 0;
}

int pgbouncer_sync_if_changed(struct pgbouncer *b, struct db *master,
    const struct crypto_keys *keys, struct err *e)
{
	char sig[SIG_MAX];
	int rc = signature(master, sig, sizeof sig, e);
	if (rc != 0)
		return rc;
	if (b->synced_sig[0] != '\0' && strcmp(sig, b->synced_sig) == 0)
		return 0;
	return sync_with(b, master, keys, sig, NULL, e);
}

int pgbouncer_sync(struct pgbouncer *b, struct db *master,
    const struct crypto_keys *keys, int *count, struct err *e)
{
	char sig[SIG_MAX];
	int rc = signature(master, sig, sizeof sig, e);
	return rc != 0 ? rc : sync_with(b, master, keys, sig, count, e);
}
