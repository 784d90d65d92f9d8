#include "account.h"

#include <string.h>
#include <time.h>

#include "auth.h"
#include "cfg.h"
#include "clock.h"
#include "jsonh.h"
#include "log.h"
#include "pgbouncer.h"
#include "resolvers.h"
#include "tenant_admin.h"
#include "token.h"
#include "users.h"

/* The User type: the password is never returned. */
static json_object *user_json(const struct user_info *u)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "tenantID", json_object_new_string(u->tenant_id));
	json_object_object_add(o, "username", json_object_new_string(u->username));
	json_object_object_add(o, "taxID", json_object_new_string(u->tax_id));
	json_object_object_add(o, "password", NULL);
	return o;
}

/* Arguments are coerced by the engine: non-null strings are present. */
static const char *arg_str(json_object *obj, const char *key)
{
	const char *s = jsonh_str(obj, key, NULL);
	return s != NULL ? s : "";
}

int account_create_tenant(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	int rc = auth_admin(app->req, e);
	if (rc != 0)
		return rc;
	json_object *in = jsonh_obj(call->args, "createTenantInput");
	json_object *ds = jsonh_obj(in, "dataSource");
	struct tenant_input ti = {
		.tenant_id = arg_str(in, "tenantID"),
		.name = arg_str(in, "tenantName"),
		.host = arg_str(ds, "host"),
		.port = arg_str(ds, "port"),
		.user = arg_str(ds, "username"),
		.password = arg_str(ds, "password"),
		.dbname = arg_str(ds, "db"),
	};
	struct db *master = deps_master(app->deps, e);
	if (master == NULL)
		return e->code;
	struct tenant_admin_opts o;
	tenant_admin_opts_from_cfg(&o, cfg(), app->deps->keys);
	struct tenant_info info;
	rc = tenant_create(master, &o, &ti, &info, e);
	if (rc != 0)
		return rc;
	struct err se;
	/* PgBouncer learns of the tenant now; if this fails, the first
	 * connection to the tenant syncs again (lib/tenant.c). */
	if (app->deps->pgb != NULL &&
	    pgbouncer_sync(app->deps->pgb, master, app->deps->keys, NULL, &se) != 0)
		log_kv(LOG_WARN, "pool_sync_failed", "tenant", info.tenant_id,
		    "err", se.detail, NULL);
	json_object *t = json_object_new_object();
	json_object_object_add(t, "tenantID", json_object_new_string(info.tenant_id));
	json_object_object_add(t, "tenantName", json_object_new_string(info.name));
	json_object *src = json_object_new_object();
	json_object_object_add(src, "host", json_object_new_string(info.host));
	json_object_object_add(src, "port", json_object_new_string(info.port));
	json_object_object_add(src, "username", json_object_new_string(info.user));
	json_object_object_add(src, "db", json_object_new_string(info.dbname));
	json_object_object_add(t, "dataSource", src);
	*out = t;
	return 0;
}

/* The input object arg of a sign-up or login, with its password (which may
 * hold any byte but NUL, so its length is taken from JSON).  Checks that the
 * master database is reachable first.  Returns 0 or the error code. */
static int credentials(const struct gql_call *call, const char *arg,
    json_object **in, const char **pw, size_t *pwlen, struct err *e)
{
	struct app_ctx *app = call->app;
	*in = jsonh_obj(call->args, arg);
	*pwlen = 0;
	*pw = jsonh_str(*in, "password", pwlen);
	if (*pw == NULL)
		*pw = "";
	return deps_master(app->deps, e) == NULL ? e->code : 0;
}

int account_sign_up(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	json_object *in;
	const char *pw;
	size_t pwlen;
	int rc = credentials(call, "signUp", &in, &pw, &pwlen, e);
	if (rc != 0)
		return rc;
	struct user_info u;
	rc = users_signup(&app->deps->users, arg_str(in, "tenantID"),
	    arg_str(in, "username"), pw, pwlen, arg_str(in, "taxID"), &u, e);
	if (rc != 0)
		return rc;
	log_kv(LOG_INFO, "user_signed_up", "tenant", u.tenant_id, NULL);
	*out = user_json(&u);
	return 0;
}

int account_login(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	json_object *in;
	const char *pw;
	size_t pwlen;
	int rc = credentials(call, "loginInput", &in, &pw, &pwlen, e);
	if (rc != 0)
		return rc;
	struct user_info u;
	rc = users_login(&app->deps->users, arg_str(in, "username"), pw, pwlen, &u, e);
	if (rc != 0)
		return rc;
	struct token_claims claims;
	memset(&claims, 0, sizeof claims);
	claims.user_id = u.id;
	memcpy(claims.username, u.username, sizeof claims.username);
	memcpy(claims.tenant_id, u.tenant_id, sizeof claims.tenant_id);
	char token[TOKEN_MAX_LEN];
	long long exp = 0;
	rc = token_sign(&app->deps->tokens, &claims, time(NULL), token, sizeof token, &exp, e);
	if (rc != 0)
		return rc;
	char expires[CLOCK_ISO_MAX];
	clock_iso8601((int64_t)exp * 1000, expires);
	json_object *p = json_object_new_object();
	json_object_object_add(p, "accessToken", json_object_new_string(token));
	json_object_object_add(p, "userName", json_object_new_string(u.username));
	json_object_object_add(p, "taxID", json_object_new_string(u.tax_id));
	json_object_object_add(p, "expiresAt", json_object_new_string(expires));
	*out = p;
	return 0;
}

int account_me(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	const struct token_claims *who;
	int rc = auth_user(&app->caller, app->req, app->deps, &who, e);
	if (rc != 0)
		return rc;
	struct user_info u;
	rc = users_get(&app->deps->users, who->tenant_id, who->user_id, &u, e);
	if (rc == APP_ERR_NOT_FOUND)
		return err_set(e, APP_ERR_UNAUTHENTICATED,
		    "the token's user or tenant no longer exists", "%s", e->detail);
	if (rc != 0)
		return rc;
	*out = user_json(&u);
	return 0;
}
