#include "jsonh.h"

json_object *jsonh_parse(const char *text, size_t len, int max_depth,
    const char **why)
{
	if (len > (size_t)INT32_MAX) {
		*why = "JSON text too large";
		return NULL;
	}
	json_tokener *tok = json_tokener_new_ex(max_depth > 0 ? max_depth : JSONH_MAX_DEPTH);
	if (tok == NULL) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(o);
		*why = jerr == json_tokener_error_depth ? "JSON nested too deeply" :
		    "invalid JSON";
		return NULL;
	}
	for (; used < len; used++) {
		char c = text[used];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(o);
			*why = "invalid JSON: trailing characters";
			return NULL;
		}
	}
	return o;
}

const char *jsonh_str(json_object *o, const char *key, size_t *len)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

json_object *jsonh_obj(json_object *o, const char *key)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

bool jsonh_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

const char *jsonh_text(json_object *o, size_t *len)
{
	size_t n = 0;
	const char *t = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (len != NULL)
		*len = n;
	return t;
}
