#include "graphql.h"

#include <stdbool.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include <json-c/json.h>

#include "app_schema.h"
#include "cfg.h"
#include "gql.h"
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
	const struct config *c = cfg();
	gql_limits_default(&limits);
	limits.max_doc_bytes = (size_t)c->gql_max_doc_bytes;
	limits.max_tokens = (size_t)c->gql_max_tokens;
	limits.max_depth = (unsigned)c->gql_max_depth;
	limits.max_aliases = (unsigned)c->gql_max_aliases;
	limits.max_root_fields = (unsigned)c->gql_max_root_fields;
	limits.introspection = c->gql_introspection;
	return 0;
}

void graphql_shutdown(void)
{
	gql_schema_free(schema);
	schema = NULL;
}

/* --- content negotiation and CORS ------------------------------------ */

enum media { MEDIA_NONE, MEDIA_JSON, MEDIA_GQL };

/* The q value of one media range's parameters (from its first ';' to
 * end); 1 when absent. */
static double range_q(const char *params, const char *end)
{
	const char *p = params;
	while (p != NULL && p < end) {
		p++;
		while (p < end && *p == ' ')
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
			return strtod(p + 2, NULL);
		p = memchr(p, ';', (size_t)(end - p));
	}
	return 1.0;
}

/* True if the Accept list has the media type with q > 0. */
static bool accepts(const char *accept, const char *type)
{
	size_t tlen = strlen(type);
	const char *p = accept;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p + strcspn(p, ",");
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *tend = semi ? semi : end;
		while (tend > p && tend[-1] == ' ')
			tend--;
		if ((size_t)(tend - p) == tlen && strncasecmp(p, type, tlen) == 0 &&
		    range_q(semi, end) > 0)
			return true;
		p = end;
	}
	return false;
}

/* The response media type the client accepts; MEDIA_NONE if neither. */
static enum media negotiate(const struct http_req *r)
{
	const char *accept = http_header(r, "Accept");
	if (accept == NULL || accept[0] == '\0')
		return MEDIA_JSON;
	if (accepts(accept, "application/graphql-response+json"))
		return MEDIA_GQL;
	if (accepts(accept, "application/json") || accepts(accept, "application/*") ||
	    accepts(accept, "*/*"))
		return MEDIA_JSON;
	return MEDIA_NONE;
}

/* "Access-Control-Allow-Origin..." lines for an allowed Origin, else "". */
static const char *cors_headers(const struct http_req *r, bool preflight)
{
	const char *origin = http_header(r, "Origin");
	const char *allowed = cfg()->cors_origins;
	if (origin == NULL || allowed[0] == '\0')
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
	if (!ok || strpbrk(origin, "\r\n") != NULL)
		return "";
	return arena_printf(r->arena,
	    "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n%s", origin,
	    preflight ?
	    "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
	    "Access-Control-Allow-Headers: Content-Type, Authorization, X-Admin-Key, X-Omit-Nulls\r\n"
	    "Access-Control-Max-Age: 600\r\n" : "");
}

/* --- the request ------------------------------------------------------- */

struct gql_http {
	struct gql_request req;
	json_object *body;	/* POST: the parsed body (owned, put at the end) */
	json_object *vars;	/* GET: parsed variables (owned) */
};

/* Answers a request that is not a valid GraphQL-over-HTTP request at all. */
static void bad_request(struct http_req *r, int status, const char *msg,
    const char *extra)
{
	http_respond_error(r, status, APP_ERR_BAD_INPUT, msg, extra);
}

/* A string-or-null member; false (and *why) if it has another type. */
static bool opt_string(json_object *obj, const char *key, const char **out,
    size_t *len, const char **why)
{
	json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_string)) {
		*why = key[0] == 'q' ? "\"query\" must be a string" :
		    "\"operationName\" must be a string or null";
		return false;
	}
	*out = json_object_get_string(v);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return true;
}

/* Fills g from a POST body; 0, or an HTTP status with *why. */
static int from_post(struct http_req *r, struct gql_http *g, const char **why)
{
	const char *ct = r->content_type;
	size_t n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (!(n == 16 && strncasecmp(ct, "application/json", 16) == 0)) {
		*why = "Content-Type must be application/json";
		return 415;
	}
	struct err e;
	err_clear(&e);
	if (http_read_body(r, (size_t)cfg()->max_body_bytes, &e) != 0) {
		*why = e.msg;
		return e.code == APP_ERR_TOO_LARGE ? 413 : 400;
	}
	g->body = jsonh_parse(r->body, r->body_len, 0, why);
	if (g->body == NULL)
		return 400;
	if (!json_object_is_type(g->body, json_type_object)) {
		*why = "body must be a JSON object";
		return 400;
	}
	if (!opt_string(g->body, "query", &g->req.query, &g->req.query_len, why))
		return 400;
	if (g->req.query == NULL) {
		*why = "\"query\" is required";
		return 400;
	}
	if (!opt_string(g->body, "operationName", &g->req.operation_name, NULL, why))
		return 400;
	json_object *v;
	if (json_object_object_get_ex(g->body, "variables", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_object)) {
			*why = "\"variables\" must be an object or null";
			return 400;
		}
		g->req.variables = v;
	}
	if (json_object_object_get_ex(g->body, "extensions", &v) && v != NULL &&
	    !json_object_is_type(v, json_type_object)) {
		*why = "\"extensions\" must be an object or null";
		return 400;
	}
	return 0;
}

/* Fills g from the query string of a GET; 0, or an HTTP status. */
static int from_get(struct http_req *r, struct gql_http *g, const char **why)
{
	bool bad = false;
	g->req.query = http_form_value(r->arena, r->query, "query", &bad);
	g->req.operation_name = http_form_value(r->arena, r->query, "operationName", &bad);
	const char *vars = http_form_value(r->arena, r->query, "variables", &bad);
	const char *ext = http_form_value(r->arena, r->query, "extensions", &bad);
	if (bad) {
		*why = "badly encoded query string";
		return 400;
	}
	if (g->req.query == NULL || g->req.query[0] == '\0') {
		*why = "\"query\" parameter is required";
		return 400;
	}
	g->req.query_len = strlen(g->req.query);
	if (vars != NULL && vars[0] != '\0' && strcmp(vars, "null") != 0) {
		g->vars = jsonh_parse(vars, strlen(vars), 0, why);
		if (g->vars == NULL || !json_object_is_type(g->vars, json_type_object)) {
			*why = "\"variables\" must be a JSON object";
			return 400;
		}
		g->req.variables = g->vars;
	}
	if (ext != NULL && ext[0] != '\0' && strcmp(ext, "null") != 0) {
		json_object *x = jsonh_parse(ext, strlen(ext), 0, why);
		bool ok = x != NULL && json_object_is_type(x, json_type_object);
		json_object_put(x);
		if (!ok) {
			*why = "\"extensions\" must be a JSON object";
			return 400;
		}
	}
	return 0;
}

static void put_json(void *p)
{
	json_object_put(p);
}

static void respond_json(struct http_req *r, int status, enum media m,
    const char *cors, json_object *resp)
{
	size_t len;
	const char *text = jsonh_text(resp, &len);
	http_respond(r, status, m == MEDIA_GQL ? MT_GQL : MT_JSON, cors, text, len);
}

/* HTTP status of a GraphQL request error under the negotiated media type. */
static int request_error_status(enum media m, int rc)
{
	(void)rc;
	return m == MEDIA_GQL ? 400 : 200;
}

void graphql_handle(struct http_req *r, struct deps *d)
{
	bool is_get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	bool is_post = strcmp(r->method, "POST") == 0;
	if (strcmp(r->method, "OPTIONS") == 0) {
		http_respond(r, 204, NULL, cors_headers(r, true), "", 0);
		return;
	}
	const char *cors = cors_headers(r, false);
	if (!is_get && !is_post) {
		bad_request(r, 405, "use GET or POST",
		    arena_printf(r->arena, "Allow: GET, POST, OPTIONS\r\n%s", cors));
		return;
	}
	enum media m = negotiate(r);
	if (m == MEDIA_NONE) {
		bad_request(r, 406, "responses are application/graphql-response+json "
		    "or application/json", cors);
		return;
	}
	struct gql_http g;
	memset(&g, 0, sizeof g);
	const char *why = "bad request";
	int status = is_post ? from_post(r, &g, &why) : from_get(r, &g, &why);
	if (g.body != NULL)
		arena_cleanup_add(r->arena, put_json, g.body);
	if (g.vars != NULL)
		arena_cleanup_add(r->arena, put_json, g.vars);
	if (status != 0) {
		bad_request(r, status, why, cors);
		return;
	}

	struct gql_prepared *prep = NULL;
	json_object *errors = NULL;
	int rc = gql_prepare(schema, &limits, &g.req, r->arena, &prep, &errors);
	if (rc != 0) {
		arena_cleanup_add(r->arena, put_json, errors);
		respond_json(r, request_error_status(m, rc), m, cors, errors);
		return;
	}
	enum gql_operation op = gql_prepared_operation(prep);
	if (is_get && op != GQL_OPERATION_QUERY) {
		/* GET must be safe: mutations only over POST. */
		bad_request(r, 405, "only queries may be sent with GET; use POST",
		    arena_printf(r->arena, "Allow: POST\r\n%s", cors));
		return;
	}
	if (op == GQL_OPERATION_SUBSCRIPTION) {
		json_object *resp = json_object_new_object();
		json_object *arr = json_object_new_array();
		json_object *e = json_object_new_object();
		json_object_object_add(e, "message", json_object_new_string(
		    "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql"));
		json_object *ext = json_object_new_object();
		json_object_object_add(ext, "code", json_object_new_string("BAD_USER_INPUT"));
		json_object_object_add(e, "extensions", ext);
		json_object_array_add(arr, e);
		json_object_object_add(resp, "errors", arr);
		arena_cleanup_add(r->arena, put_json, resp);
		respond_json(r, request_error_status(m, APP_ERR_BAD_INPUT), m, cors, resp);
		return;
	}
	const char *omit = http_header(r, "X-Omit-Nulls");
	struct gql_exec_opts opts = {
		.omit_nulls = omit != NULL && (strcmp(omit, "1") == 0 ||
		    strcasecmp(omit, "true") == 0),
	};
	struct app_ctx app = { .req = r, .deps = d };
	json_object *resp = gql_execute_prepared(prep, &app, NULL, &opts, r->arena);
	arena_cleanup_add(r->arena, put_json, resp);
	respond_json(r, 200, m, cors, resp);
}
