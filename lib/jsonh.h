/* jsonh: small helpers over json-c for reading untrusted JSON and building
 * responses.
 *
 * Getters never fail loudly: they return NULL/false when a member is absent
 * or of another type, so callers validate with one check.  Returned strings
 * and objects are borrowed from the containing object. */
#ifndef JSONH_H
#define JSONH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

enum { JSONH_MAX_DEPTH = 64 };

/* Parses text[0..len) as exactly one JSON value (whitespace around it is
 * allowed, anything else is not), nested at most max_depth deep (0:
 * JSONH_MAX_DEPTH).  Returns a new reference, or NULL with *why set to a
 * short public reason. */
json_object *jsonh_parse(const char *text, size_t len, int max_depth,
    const char **why) __attribute__((warn_unused_result));

/* Member key of o if it is a string (its length in *len if not NULL). */
const char *jsonh_str(json_object *o, const char *key, size_t *len);

/* Member key of o if it is an object. */
json_object *jsonh_obj(json_object *o, const char *key);

/* Member key of o if it is an integer (not a float, string or bool). */
bool jsonh_int(json_object *o, const char *key, int64_t *out);

/* Compact text of o (no escaped slashes), owned by o. */
const char *jsonh_text(json_object *o, size_t *len);

#endif
