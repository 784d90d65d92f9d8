#include "tenant.h"

#include <string.h>

#include "crypto.h"
#include "strcopy.h"

static const char sql_tenant_info[] =
    "SELECT tenant_id, name, db_host, db_port::text, db_user, db_name"
    " FROM tenants WHERE tenant_id = $1";
static const char sql_tenant_row[] =
    "SELECT db_host, db_port::text, db_user, db_name, db_password_enc,"
    " updated_at::text FROM tenants WHERE tenant_id = $1";
static const char sql_tenant_updated[] =
    "SELECT updated_at::text FROM tenants WHERE tenant_id = $1";

bool tenant_id_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= TENANT_ID_MAX - 1 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

uint64_t tenant_id_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int tenant_get(struct db *master, const char *tenant_id, struct tenant_info *out,
    struct err *e)
{
	memset(out, 0, sizeof *out);
	if (tenant_id == NULL || !tenant_id_valid(tenant_id))
		return err_set(e, APP_ERR_NOT_FOUND, "tenant not found",
		    "invalid tenant id");
	const char *p[] = { tenant_id };
	PGresult *r = db_exec(master, sql_tenant_info, 1, p, "tenant info", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	if (PQntuples(r) != 1)
		rc = err_set(e, APP_ERR_NOT_FOUND, "tenant not found", "tenant %s",
		    tenant_id);
	else if (!str_copy(out->tenant_id, sizeof out->tenant_id, PQgetvalue(r, 0, 0)) ||
	    !str_copy(out->name, sizeof out->name, PQgetvalue(r, 0, 1)) ||
	    !str_copy(out->host, sizeof out->host, PQgetvalue(r, 0, 2)) ||
	    !str_copy(out->port, sizeof out->port, PQgetvalue(r, 0, 3)) ||
	    !str_copy(out->user, sizeof out->user, PQgetvalue(r, 0, 4)) ||
	    !str_copy(out->dbname, sizeof out->dbname, PQgetvalue(r, 0, 5)))
		rc = err_set(e, APP_ERR_INTERNAL, "internal error",
		    "tenant %s: field too long", tenant_id);
	PQclear(r);
	return rc;
}

int tenant_target_load(struct db *master, const char *tenant_id,
    const struct crypto_keys *keys, bool open_password, struct tenant_target *t,
    struct err *e)
{
	memset(t, 0, sizeof *t);
	const char *p[] = { tenant_id };
	PGresult *r = db_exec(master, sql_tenant_row, 1, p, "tenant row", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	size_t plen;
	if (PQntuples(r) != 1)
		rc = err_set(e, APP_ERR_NOT_FOUND, "tenant not found",
		    "tenant %s not in registry", tenant_id);
	else if (!str_copy(t->host, sizeof t->host, PQgetvalue(r, 0, 0)) ||
	    !str_copy(t->port, sizeof t->port, PQgetvalue(r, 0, 1)) ||
	    !str_copy(t->user, sizeof t->user, PQgetvalue(r, 0, 2)) ||
	    !str_copy(t->dbname, sizeof t->dbname, PQgetvalue(r, 0, 3)) ||
	    !str_copy(t->updated_at, sizeof t->updated_at, PQgetvalue(r, 0, 5)))
		rc = err_set(e, APP_ERR_INTERNAL, "internal error",
		    "tenant %s: registry field too long", tenant_id);
	else if (open_password && (keys == NULL || crypto_open(keys,
	    PQgetvalue(r, 0, 4), t->password, sizeof t->password, &plen, NULL) != 0))
		rc = err_set(e, APP_ERR_INTERNAL, "internal error",
		    "tenant %s: cannot decrypt db_password_enc (unknown key id or "
		    "tampered)", tenant_id);
	PQclear(r);
	if (rc != 0)
		crypto_wipe(t, sizeof *t);
	return rc;
}

int tenant_updated_at(struct db *master, const char *tenant_id, char *out,
    size_t size, struct err *e)
{
	const char *p[] = { tenant_id };
	PGresult *r = db_exec(master, sql_tenant_updated, 1, p, "tenant recheck", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	int rc = 0;
	if (PQntuples(r) != 1)
		rc = err_set(e, APP_ERR_NOT_FOUND, "tenant not found",
		    "tenant %s left the registry", tenant_id);
	else if (!str_copy(out, size, PQgetvalue(r, 0, 0)))
		rc = err_set(e, APP_ERR_INTERNAL, "internal error",
		    "tenant %s: updated_at too long", tenant_id);
	PQclear(r);
	return rc;
}
