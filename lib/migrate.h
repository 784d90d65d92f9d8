/* migrate: versioned schema migrations of the master and tenant databases.
 *
 * Files are SQL_DIR/master/NNN_name.sql and SQL_DIR/tenant/NNN_name.sql
 * (NNN: 3 to 9 digits, the version; name: [A-Za-z0-9_-]).  They are read at
 * run time from the directory given by the SQL_DIR setting (default "sql",
 * relative to the working directory), so programs must run from the
 * repository root or set SQL_DIR to an absolute path.
 *
 * migrate_run() applies, in version order, every file whose version is not
 * in the table schema_migrations(version, name, applied_at), each file in its
 * own transaction that also records the version.  Every transaction first
 * takes a PostgreSQL advisory transaction lock, so concurrent runners (many
 * processes starting at once) apply each file exactly once.  A database whose
 * newest applied version is newer than the newest file known here is refused:
 * an old binary must not run against a newer schema.
 *
 * A file must not contain BEGIN/COMMIT; it runs inside the runner's
 * transaction. */
#ifndef MIGRATE_H
#define MIGRATE_H

#include <libpq-fe.h>

#include "err.h"

enum migrate_kind { MIGRATE_MASTER, MIGRATE_TENANT };

enum {
	MIGRATE_FILES_MAX = 512,		/* files per kind */
	MIGRATE_FILE_BYTES_MAX = 1024 * 1024,	/* bytes of one file */
	MIGRATE_NAME_MAX = 128,
};

/* Applies the missing migrations of kind from sql_dir to conn, which must be
 * idle (no open transaction).  *applied (may be NULL) gets how many files
 * this call applied.  Returns 0, or APP_ERR_INTERNAL (files unreadable or
 * malformed, a file failed, the database is newer) or APP_ERR_UNAVAILABLE
 * (connection lost) with e filled; a failed file leaves no trace. */
int migrate_run(PGconn *conn, const char *sql_dir, enum migrate_kind kind,
    int *applied, struct err *e) __attribute__((warn_unused_result));

/* The newest version among the files of kind in sql_dir (0 if none).
 * Returns 0, or APP_ERR_INTERNAL with e filled. */
int migrate_latest(const char *sql_dir, enum migrate_kind kind, int *version,
    struct err *e) __attribute__((warn_unused_result));

/* The newest version applied to conn's database (0 if none or no table).
 * Returns 0 or a negative app_err with e filled. */
int migrate_current(PGconn *conn, int *version, struct err *e)
	__attribute__((warn_unused_result));

#endif
