/* libFuzzer harness: what other systems send the worker — a provider's
 * answer (reportwork_parse_answer, then, for completed data, both report
 * builders) and a report.create event (reportevent_parse_create).
 *
 * Byte 0 chooses: even, the rest is a provider answer body; odd, the rest
 * is a report.create payload.  Accepted input is checked against what the
 * parsers promise. */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonh.h"
#include "log.h"
#include "reportevent.h"
#include "reportwork.h"
#include "sbuf.h"
#include "tenant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(const char *body, size_t n)
{
	struct reportwork_answer a;
	reportwork_parse_answer(body, n, &a);
	if (a.kind == REPORTWORK_ANSWER_MALFORMED) {
		if (a.why == NULL || a.data != NULL)
			__builtin_trap();
		return;
	}
	if (a.kind == REPORTWORK_ANSWER_PROCESSING) {
		if (a.job_id[0] == '\0' || a.data != NULL)
			__builtin_trap();
		return;
	}
	if (a.data == NULL || !json_object_is_type(a.data, json_type_object))
		__builtin_trap();
	/* The builders get the same hostile object for every provider. */
	json_object *const d[REPORT_PROVIDERS_N] = { a.data, a.data, a.data };
	struct sbuf csv, js;
	struct err e;
	sbuf_init(&csv, REPORTWORK_FILE_MAX + 1);
	sbuf_init(&js, REPORTWORK_FILE_MAX + 1);
	if (reportwork_build_csv(1, 1700000000000, d, &csv, &e) == 0 &&
	    (csv.len < 2 || memcmp(csv.p + csv.len - 2, "\r\n", 2) != 0))
		__builtin_trap();	/* every CSV row ends with CRLF */
	if (reportwork_build_json(1, 1700000000000, d, &js, &e) == 0) {
		const char *why = NULL;
		json_object *back = jsonh_parse(js.p, js.len, REPORTWORK_DATA_DEPTH + 4, &why);
		if (back == NULL)
			__builtin_trap();	/* the JSON file is JSON */
		json_object_put(back);
	}
	sbuf_clear(&csv);
	sbuf_clear(&js);
	json_object_put(a.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		log_init("fuzz", LOG_ERROR + 1);
		once = 1;
	}
	if (size < 1)
		return 0;
	const char *rest = (const char *)data + 1;
	size_t n = size - 1;
	if ((data[0] & 1) == 0) {
		answer(rest, n);
		return 0;
	}
	char tenant[TENANT_ID_MAX];
	long long id = 0;
	if (reportevent_parse_create(rest, n, tenant, &id) == 0 &&
	    (!tenant_id_valid(tenant) || id < 1 || id > 2147483647))
		__builtin_trap();
	return 0;
}
