#include "graphql.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "app_schema.h"
#include "cfg.h"
#include "gql.h"
#include "gqlhttp.h"
#include "jsonh.h"
#include "log.h"
#include "resolvers.h"

static struct gql_schema *schema;
static struct gql_limits limits;

static const char MT_JSON[] = "application/json; charset=utf-8";
static const char MT_GQL[] = "application/graphql-response+json; charset=utf-8";

int graphql_init(void)
{
	struct err e;
	err_clear(&e);
	schema = app_schema_new(&e);
	if (schema == NULL) {
		log_kv(LOG_ERROR, "schema_failed", "err", e.msg, NULL);
		return -1;
	}
	if (resolvers_register(schema, &e) != 0) {
		log_kv(LOG_ERROR, "resolvers_failed", "err", e.msg, "detail", e.detail, NULL);
		gql_schema_free(schema);
		schema = NULL;
		return -1;
	}
	app_schema_limits(cfg(), &limits);
	return 0;
}

void graphql_shutdown(void)
{
	gql_schema_free(schema);
	schema = NULL;
}

/* "Access-Control-Allow-Origin..." lines for an allowed Origin, else "". */
static const char *cors_headers(const struct http_req *r, bool preflight)
{
	const char *origin = http_header(r, "Origin");
	const char *allowed = cfg()->cors_origins;
	if (origin == NULL || allowed[0] == '\0' || strpbrk(origin, "\r\n") != NULL)
		return "";
	bool ok = strcmp(allowed, "*") == 0;
	size_t olen = strlen(origin);
	for (const char *p = allowed; !ok && *p != '\0';) {
		size_t n = strcspn(p, ",");
		ok = n == olen && strncmp(p, origin, n) == 0;
		p += n;
		if (*p == ',')
			p++;
	}
	if (!ok)
		return "";
	return arena_printf(r->arena,
	    "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n%s", origin,
	    preflight ?
	    "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
	    "Access-Control-Allow-Headers: Content-Type, Authorization, X-Admin-Key, X-Omit-Nulls\r\n"
	    "Access-Control-Max-Age: 600\r\n" : "");
}

static void put_json(void *p)
{
	json_object_put(p);
}

/* Sends a GraphQL response object (which the arena then releases). */
static void respond_json(struct http_req *r, int status, enum gqlhttp_media m,
    const char *cors, json_object *resp)
{
	arena_cleanup_add(r->arena, put_json, resp);
	size_t len;
	const char *text = jsonh_text(resp, &len);
	http_respond(r, status, m == GQLHTTP_MEDIA_GQL ? MT_GQL : MT_JSON, cors, text, len);
}

/* A GraphQL request error (no "data"): 400 under graphql-response+json,
 * 200 under application/json, as GraphQL over HTTP says. */
static void respond_request_error(struct http_req *r, enum gqlhttp_media m,
    const char *cors, json_object *errors)
{
	respond_json(r, m == GQLHTTP_MEDIA_GQL ? 400 : 200, m, cors, errors);
}

void graphql_handle(struct http_req *r, struct deps *d)
{
	if (strcmp(r->method, "OPTIONS") == 0) {
		http_respond(r, 204, NULL, cors_headers(r, true), "", 0);
		return;
	}
	const char *cors = cors_headers(r, false);
	bool is_post = strcmp(r->method, "POST") == 0;
	bool is_get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	if (!is_get && !is_post) {
		http_respond_error(r, 405, APP_ERR_BAD_INPUT, "use GET or POST",
		    arena_printf(r->arena, "Allow: GET, POST, OPTIONS\r\n%s", cors));
		return;
	}
	enum gqlhttp_media m = gqlhttp_negotiate(http_header(r, "Accept"));
	if (m == GQLHTTP_MEDIA_NONE) {
		http_respond_error(r, 406, APP_ERR_BAD_INPUT, "responses are "
		    "application/graphql-response+json or application/json", cors);
		return;
	}
	struct err e;
	err_clear(&e);
	if (is_post && http_read_body(r, (size_t)cfg()->max_body_bytes, &e) != 0) {
		http_respond_error(r, e.code == APP_ERR_TOO_LARGE ? 413 : 400,
		    APP_ERR_BAD_INPUT, e.msg, cors);
		return;
	}
	struct gqlhttp_in in = {
		.method = r->method, .content_type = r->content_type,
		.query_string = r->query, .body = r->body, .body_len = r->body_len,
	};
	struct gql_request req;
	const char *why = "bad request";
	int status = gqlhttp_decode(r->arena, &in, &req, &why);
	if (status != 0) {
		http_respond_error(r, status, APP_ERR_BAD_INPUT, why, cors);
		return;
	}

	struct gql_prepared *prep = NULL;
	json_object *errors = NULL;
	if (gql_prepare(schema, &limits, &req, r->arena, &prep, &errors) != 0) {
		respond_request_error(r, m, cors, errors);
		return;
	}
	enum gql_operation op = gql_prepared_operation(prep);
	if (is_get && op != GQL_OPERATION_QUERY) {
		/* GET must be safe: mutations only over POST. */
		http_respond_error(r, 405, APP_ERR_BAD_INPUT,
		    "only queries may be sent with GET; use POST",
		    arena_printf(r->arena, "Allow: POST\r\n%s", cors));
		return;
	}
	if (op == GQL_OPERATION_SUBSCRIPTION) {
		json_object *resp = json_object_new_object();
		json_object_object_add(resp, "errors", gql_error_list("subscriptions are "
		    "served over WebSocket (graphql-transport-ws) at /graphql",
		    APP_ERR_BAD_INPUT));
		respond_request_error(r, m, cors, resp);
		return;
	}
	const char *omit = http_header(r, "X-Omit-Nulls");
	struct gql_exec_opts opts = {
		.omit_nulls = omit != NULL && (strcmp(omit, "1") == 0 ||
		    strcasecmp(omit, "true") == 0),
	};
	struct app_ctx app = { .req = r, .deps = d };
	respond_json(r, 200, m, cors,
	    gql_execute_prepared(prep, &app, NULL, &opts, r->arena));
}
