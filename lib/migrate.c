#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "xalloc.h"

enum { PATH_MAX_LEN = 4096, VERSION_DIGITS_MIN = 3, VERSION_DIGITS_MAX = 9,
    VERSION_STR_MAX = 16 };

/* Every runner of every process takes this lock (one 64-bit key for the
 * whole service), per transaction, before looking at schema_migrations. */
static const char sql_lock[] =
    "SELECT pg_advisory_xact_lock(7310575371235226225)";
static const char sql_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
static const char sql_max[] =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";
static const char sql_has[] =
    "SELECT 1 FROM schema_migrations WHERE version = $1::int";
static const char sql_record[] =
    "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)";
static const char sql_table_exists[] =
    "SELECT to_regclass('schema_migrations') IS NOT NULL";

struct mfile {
	int version;
	char name[MIGRATE_NAME_MAX];
	char file[MIGRATE_NAME_MAX + 32];
};

static const char *kind_dir(enum migrate_kind kind)
{
	return kind == MIGRATE_MASTER ? "master" : "tenant";
}

/* Parses "NNN_name.sql"; returns true and fills f if the name fits. */
static bool parse_name(const char *fn, struct mfile *f)
{
	size_t n = strlen(fn), d = 0;
	while (fn[d] >= '0' && fn[d] <= '9')
		d++;
	if (d < VERSION_DIGITS_MIN || d > VERSION_DIGITS_MAX || fn[d] != '_')
		return false;
	if (n < d + 1 + 1 + 4 || strcmp(fn + n - 4, ".sql") != 0)
		return false;
	size_t nl = n - 4 - (d + 1);
	if (nl >= MIGRATE_NAME_MAX || n >= sizeof f->file)
		return false;
	for (size_t i = d + 1; i < n - 4; i++) {
		char c = fn[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	f->version = atoi(fn);
	memcpy(f->name, fn + d + 1, nl);
	f->name[nl] = '\0';
	memcpy(f->file, fn, n + 1);
	return f->version > 0;
}

static int cmp_mfile(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

/* Lists the files of kind, sorted.  *out is malloc'd (free it). */
static int list_files(const char *sql_dir, enum migrate_kind kind,
    struct mfile **out, size_t *count, struct err *e)
{
	char path[PATH_MAX_LEN];
	int n = snprintf(path, sizeof path, "%s/%s", sql_dir, kind_dir(kind));
	if (n < 0 || (size_t)n >= sizeof path)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: SQL_DIR too long");
	DIR *d = opendir(path);
	if (d == NULL)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: cannot open %s (SQL_DIR): %s", path, strerror(errno));
	struct mfile *files = xcalloc(MIGRATE_FILES_MAX, sizeof *files);
	size_t cnt = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct mfile f;
		size_t fl = strlen(de->d_name);
		/* Only *.sql files count; editors' backups and READMEs don't. */
		if (de->d_name[0] == '.' || fl < 4 ||
		    strcmp(de->d_name + fl - 4, ".sql") != 0)
			continue;
		if (!parse_name(de->d_name, &f)) {
			rc = err_set(e, APP_ERR_INTERNAL, "internal error",
			    "migrate: %s/%s is not named NNN_name.sql", path,
			    de->d_name);
			goto out;
		}
		if (cnt == MIGRATE_FILES_MAX) {
			rc = err_set(e, APP_ERR_INTERNAL, "internal error",
			    "migrate: more than %d files in %s", MIGRATE_FILES_MAX,
			    path);
			goto out;
		}
		files[cnt++] = f;
	}
	qsort(files, cnt, sizeof *files, cmp_mfile);
	for (size_t i = 1; i < cnt; i++)
		if (files[i].version == files[i - 1].version) {
			rc = err_set(e, APP_ERR_INTERNAL, "internal error",
			    "migrate: version %d appears twice in %s",
			    files[i].version, path);
			goto out;
		}
out:
	closedir(d);
	if (rc != 0) {
		free(files);
		return rc;
	}
	*out = files;
	*count = cnt;
	return 0;
}

/* Reads a whole file (bounded) into a malloc'd NUL-terminated string. */
static int read_file(const char *sql_dir, enum migrate_kind kind,
    const struct mfile *f, char **out, struct err *e)
{
	char path[PATH_MAX_LEN];
	int n = snprintf(path, sizeof path, "%s/%s/%s", sql_dir, kind_dir(kind),
	    f->file);
	if (n < 0 || (size_t)n >= sizeof path)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: path too long");
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: cannot open %s: %s", path, strerror(errno));
	char *buf = xmalloc(MIGRATE_FILE_BYTES_MAX + 1);
	size_t len = fread(buf, 1, MIGRATE_FILE_BYTES_MAX + 1, fp);
	bool rerr = ferror(fp) != 0;
	fclose(fp);
	if (rerr || len > MIGRATE_FILE_BYTES_MAX || memchr(buf, '\0', len)) {
		free(buf);
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: %s is unreadable, too large or binary", path);
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

int migrate_latest(const char *sql_dir, enum migrate_kind kind, int *version,
    struct err *e)
{
	struct mfile *files;
	size_t cnt;
	int rc = list_files(sql_dir, kind, &files, &cnt, e);
	if (rc != 0)
		return rc;
	*version = cnt ? files[cnt - 1].version : 0;
	free(files);
	return 0;
}

/* Runs a constant statement with no result wanted. */
static int simple(PGconn *conn, const char *sql, const char *what, struct err *e)
{
	PGresult *r = db_exec_on(conn, sql, 0, NULL, what, e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_INTERNAL;
	PQclear(r);
	return 0;
}

static void rollback(PGconn *conn)
{
	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) == PQTRANS_IDLE)
		return;
	PGresult *r = PQexec(conn, "ROLLBACK");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_kv(LOG_WARN, "migrate_rollback_failed", NULL);
	PQclear(r);
}

/* One transaction: lock, make the table, read the newest version. */
static int prepare_table(PGconn *conn, int *maxv, struct err *e)
{
	int rc;
	if ((rc = simple(conn, "BEGIN", "migrate begin", e)) != 0 ||
	    (rc = simple(conn, sql_lock, "migrate lock", e)) != 0)
		goto fail;
	/* Under the lock, so checking first is race-free (and spares the
	 * "already exists" notice of IF NOT EXISTS). */
	PGresult *r = db_exec_on(conn, sql_table_exists, 0, NULL, "migrate exists", e);
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_INTERNAL;
		goto fail;
	}
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists && (rc = simple(conn, sql_table, "migrate table", e)) != 0)
		goto fail;
	r = db_exec_on(conn, sql_max, 0, NULL, "migrate max", e);
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_INTERNAL;
		goto fail;
	}
	*maxv = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	if ((rc = simple(conn, "COMMIT", "migrate commit", e)) != 0)
		goto fail;
	return 0;
fail:
	rollback(conn);
	return rc;
}

/* One transaction: lock, skip if applied meanwhile, run, record. */
static int apply_one(PGconn *conn, const struct mfile *f, const char *sql,
    bool *did, struct err *e)
{
	char ver[VERSION_STR_MAX];
	int rc;
	*did = false;
	int n = snprintf(ver, sizeof ver, "%d", f->version);
	if (n < 0 || (size_t)n >= sizeof ver)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "migrate: version");
	if ((rc = simple(conn, "BEGIN", "migrate begin", e)) != 0 ||
	    (rc = simple(conn, sql_lock, "migrate lock", e)) != 0)
		goto fail;
	const char *p1[] = { ver };
	PGresult *r = db_exec_on(conn, sql_has, 1, p1, "migrate has", e);
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_INTERNAL;
		goto fail;
	}
	bool applied = PQntuples(r) > 0;
	PQclear(r);
	if (!applied) {
		/* The one non-parameterised exec: a migration is a constant file
		 * from the repository (no input reaches it) and holds several
		 * statements, which only the simple query protocol runs. */
		r = PQexec(conn, sql);
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			char what[MIGRATE_NAME_MAX + 48];
			int wn = snprintf(what, sizeof what, "migration %s", f->file);
			rc = db_fail(conn, r, wn > 0 && (size_t)wn < sizeof what ?
			    what : "migration", NULL, e);
			if (rc == APP_ERR_CONFLICT && e != NULL) {
				/* Not a client's conflict: a broken migration. */
				e->code = APP_ERR_INTERNAL;
				memcpy(e->msg, "internal error",
				    sizeof "internal error");
				rc = APP_ERR_INTERNAL;
			}
			PQclear(r);
			goto fail;
		}
		PQclear(r);
		const char *p2[] = { ver, f->name };
		r = db_exec_on(conn, sql_record, 2, p2, "migrate record", e);
		if (r == NULL) {
			rc = e ? (int)e->code : APP_ERR_INTERNAL;
			goto fail;
		}
		PQclear(r);
	}
	if ((rc = simple(conn, "COMMIT", "migrate commit", e)) != 0)
		goto fail;
	*did = !applied;
	return 0;
fail:
	rollback(conn);
	return rc;
}

int migrate_run(PGconn *conn, const char *sql_dir, enum migrate_kind kind,
    int *applied, struct err *e)
{
	struct mfile *files = NULL;
	size_t cnt = 0;
	int rc, maxv = 0, done = 0;
	if (applied != NULL)
		*applied = 0;
	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: connection is not idle");
	if ((rc = list_files(sql_dir, kind, &files, &cnt, e)) != 0)
		return rc;
	int newest = cnt ? files[cnt - 1].version : 0;
	if ((rc = prepare_table(conn, &maxv, e)) != 0)
		goto out;
	if (maxv > newest) {
		rc = err_set(e, APP_ERR_INTERNAL, "internal error",
		    "migrate: database %s has schema version %d, newer than the "
		    "newest %s migration known here (%d); refusing to run",
		    PQdb(conn), maxv, kind_dir(kind), newest);
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		char *sql = NULL;
		bool did;
		if ((rc = read_file(sql_dir, kind, &files[i], &sql, e)) != 0)
			goto out;
		rc = apply_one(conn, &files[i], sql, &did, e);
		free(sql);
		if (rc != 0)
			goto out;
		if (did) {
			struct log_line l;
			done++;
			log_begin(&l, LOG_INFO, "migration_applied");
			log_str(&l, "db", PQdb(conn));
			log_str(&l, "kind", kind_dir(kind));
			log_int(&l, "version", files[i].version);
			log_str(&l, "name", files[i].name);
			log_end(&l);
		}
	}
	if (applied != NULL)
		*applied = done;
out:
	free(files);
	return rc;
}

int migrate_current(PGconn *conn, int *version, struct err *e)
{
	*version = 0;
	PGresult *r = db_exec_on(conn, sql_table_exists, 0, NULL, "migrate exists", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_INTERNAL;
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists)
		return 0;
	r = db_exec_on(conn, sql_max, 0, NULL, "migrate max", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_INTERNAL;
	*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}
