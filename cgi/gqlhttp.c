#include "gqlhttp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonh.h"
#include "hex.h"

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

enum gqlhttp_media gqlhttp_negotiate(const char *accept)
{
	if (accept == NULL || accept[0] == '\0')
		return GQLHTTP_MEDIA_JSON;
	if (accepts(accept, "application/graphql-response+json"))
		return GQLHTTP_MEDIA_GQL;
	if (accepts(accept, "application/json") || accepts(accept, "application/*") ||
	    accepts(accept, "*/*"))
		return GQLHTTP_MEDIA_JSON;
	return GQLHTTP_MEDIA_NONE;
}

/* Decodes s[0..n) (form encoding: '+' is a space) into the arena; NULL on a
 * bad escape. */
static char *form_decode(struct arena *a, const char *s, size_t n)
{
	char *out = arena_alloc(a, n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			if (i + 2 >= n)
				return NULL;
			int hi = hex_digit((unsigned char)s[i + 1]);
			int lo = hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

const char *gqlhttp_form_value(struct arena *a, const char *form, const char *name,
    bool *bad)
{
	size_t name_len = strlen(name);
	const char *p = form;
	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		if (klen == name_len && memcmp(p, name, klen) == 0) {
			const char *v = eq ? eq + 1 : p + len;
			size_t vlen = eq ? len - klen - 1 : 0;
			char *out = form_decode(a, v, vlen);
			if (out == NULL)
				*bad = true;
			return out;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return NULL;
}

static void put_json(void *p)
{
	json_object_put(p);
}

/* Parses JSON text whose lifetime is the arena's. */
static json_object *parse_owned(struct arena *a, const char *text, size_t len,
    const char **why)
{
	json_object *o = jsonh_parse(text, len, 0, why);
	if (o != NULL)
		arena_cleanup_add(a, put_json, o);
	return o;
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

/* An object-or-null member; false (and *why) if it has another type. */
static bool opt_object(json_object *obj, const char *key, json_object **out,
    const char *why_text, const char **why)
{
	json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_object)) {
		*why = why_text;
		return false;
	}
	*out = v;
	return true;
}

static bool is_json_media(const char *ct)
{
	if (ct == NULL)
		return false;
	size_t n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

static int decode_post(struct arena *a, const struct gqlhttp_in *in,
    struct gql_request *out, const char **why)
{
	if (!is_json_media(in->content_type)) {
		*why = "Content-Type must be application/json";
		return 415;
	}
	json_object *body = parse_owned(a, in->body, in->body_len, why);
	if (body == NULL)
		return 400;
	if (!json_object_is_type(body, json_type_object)) {
		*why = "body must be a JSON object";
		return 400;
	}
	json_object *ext;
	if (!opt_string(body, "query", &out->query, &out->query_len, why) ||
	    !opt_string(body, "operationName", &out->operation_name, NULL, why) ||
	    !opt_object(body, "variables", &out->variables,
	    "\"variables\" must be an object or null", why) ||
	    !opt_object(body, "extensions", &ext,
	    "\"extensions\" must be an object or null", why))
		return 400;
	if (out->query == NULL) {
		*why = "\"query\" is required";
		return 400;
	}
	return 0;
}

/* A JSON-object query parameter ("variables", "extensions"); absent, empty
 * and "null" give NULL. */
static int json_param(struct arena *a, const char *text, json_object **out,
    const char *why_text, const char **why)
{
	*out = NULL;
	if (text == NULL || text[0] == '\0' || strcmp(text, "null") == 0)
		return 0;
	json_object *o = parse_owned(a, text, strlen(text), why);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		*why = why_text;
		return 400;
	}
	*out = o;
	return 0;
}

static int decode_get(struct arena *a, const struct gqlhttp_in *in,
    struct gql_request *out, const char **why)
{
	const char *qs = in->query_string ? in->query_string : "";
	bool bad = false;
	out->query = gqlhttp_form_value(a, qs, "query", &bad);
	out->operation_name = gqlhttp_form_value(a, qs, "operationName", &bad);
	const char *vars = gqlhttp_form_value(a, qs, "variables", &bad);
	const char *ext = gqlhttp_form_value(a, qs, "extensions", &bad);
	if (bad) {
		*why = "badly encoded query string";
		return 400;
	}
	if (out->query == NULL || out->query[0] == '\0') {
		*why = "\"query\" parameter is required";
		return 400;
	}
	out->query_len = strlen(out->query);
	json_object *ext_obj;
	int status = json_param(a, vars, &out->variables,
	    "\"variables\" must be a JSON object", why);
	if (status == 0)
		status = json_param(a, ext, &ext_obj,
		    "\"extensions\" must be a JSON object", why);
	return status;
}

int gqlhttp_decode(struct arena *a, const struct gqlhttp_in *in,
    struct gql_request *out, const char **why)
{
	memset(out, 0, sizeof *out);
	if (strcmp(in->method, "POST") == 0)
		return decode_post(a, in, out, why);
	return decode_get(a, in, out, why);
}
