/* reportwork: the pure parts — progress, CSV escaping, the report builders
 * and the validation of provider answers. */
#include <string.h>

#include "jsonh.h"
#include "reportwork.h"
#include "sbuf.h"
#include "testlib.h"

/* 2026-11-29T08:30:00.123Z */
static const int64_t TS = 1795941000123LL;

static void t_progress(void)
{
	static const struct { int done, total, want; } cases[] = {
		{ 0, 3, 0 }, { 1, 3, 33 }, { 2, 3, 66 }, { 3, 3, 100 }, { 4, 3, 100 },
		{ -1, 3, 0 }, { 1, 0, 0 }, { 0, 0, 0 }, { 1, 2, 50 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_INT_EQ(reportwork_progress(cases[i].done, cases[i].total), cases[i].want);
}

static void t_csv_field(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "\"", "\"\"\"\"" },
		{ "line\nbreak", "\"line\nbreak\"" },
		{ "cr\rhere", "\"cr\rhere\"" },
		{ " lead", "\" lead\"" },
		{ "trail ", "\"trail \"" },
		{ "mid space", "mid space" },
		{ "ünïcödé", "ünïcödé" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sbuf sb;
		sbuf_init(&sb, 0);
		reportwork_csv_field(&sb, cases[i].in, strlen(cases[i].in));
		CHECK_STR_EQ(sb.p, cases[i].want);
		sbuf_clear(&sb);
	}
}

static json_object *parse(const char *s)
{
	const char *why = NULL;
	return jsonh_parse(s, strlen(s), 0, &why);
}

static void t_strip_nulls(void)
{
	json_object *o = parse("{\"a\":null,\"b\":1,\"c\":{\"d\":null,\"e\":[null,1,null,{\"f\":null}]},"
	    "\"g\":[],\"h\":null}");
	reportwork_strip_nulls(o);
	CHECK_STR_EQ(jsonh_text(o, NULL), "{\"b\":1,\"c\":{\"e\":[1,{}]},\"g\":[]}");
	json_object_put(o);
}

static void t_build_csv(void)
{
	json_object *d[3] = {
		parse("{\"score\":546,\"rating\":\"D\",\"note\":null,\"ok\":true,\"ratio\":0.5}"),
		parse("{\"status\":\"=HYPERLINK(1)\",\"name\":\"a,\\\"b\\\"\",\"neg\":\"-12\",\"minus\":\"-x\"}"),
		parse("{\"properties\":[{\"id\":\"P1\",\"city\":null},{\"id\":\"P2\"}],\"totalValue\":0}"),
	};
	struct sbuf sb;
	struct err e;
	sbuf_init(&sb, 0);
	CHECK_INT_EQ(reportwork_build_csv(7, TS, d, &sb, &e), 0);
	CHECK_STR_EQ(sb.p,
	    "section,field,value\r\n"
	    "report,reportID,7\r\n"
	    "report,generatedAt,2026-11-29T08:30:00.123Z\r\n"
	    "credit-bureau,score,546\r\n"
	    "credit-bureau,rating,D\r\n"
	    "credit-bureau,ok,true\r\n"
	    "credit-bureau,ratio,0.5\r\n"
	    "tax-authority,status,'=HYPERLINK(1)\r\n"
	    "tax-authority,name,\"a,\"\"b\"\"\"\r\n"
	    "tax-authority,neg,-12\r\n"
	    "tax-authority,minus,'-x\r\n"
	    "property-registry,properties.0.id,P1\r\n"
	    "property-registry,properties.1.id,P2\r\n"
	    "property-registry,totalValue,0\r\n");
	sbuf_clear(&sb);
	/* A missing provider contributes no rows. */
	json_object *none[3] = { d[0], NULL, NULL };
	sbuf_init(&sb, 0);
	CHECK_INT_EQ(reportwork_build_csv(8, TS, none, &sb, &e), 0);
	CHECK(strstr(sb.p, "tax-authority") == NULL);
	sbuf_clear(&sb);
	for (int k = 0; k < 3; k++)
		json_object_put(d[k]);
}

static void t_build_json(void)
{
	json_object *d[3] = {
		parse("{\"score\":546,\"note\":null}"),
		NULL,
		parse("{\"properties\":[null,{\"id\":\"P/2\"}]}"),
	};
	struct sbuf sb;
	struct err e;
	sbuf_init(&sb, 0);
	CHECK_INT_EQ(reportwork_build_json(7, TS, d, &sb, &e), 0);
	CHECK_STR_EQ(sb.p, "{\"reportID\":7,\"generatedAt\":\"2026-11-29T08:30:00.123Z\","
	    "\"providers\":{\"credit-bureau\":{\"score\":546},\"tax-authority\":{},"
	    "\"property-registry\":{\"properties\":[{\"id\":\"P/2\"}]}}}");
	/* The input is not changed. */
	CHECK_STR_EQ(jsonh_text(d[0], NULL), "{\"score\":546,\"note\":null}");
	sbuf_clear(&sb);
	json_object_put(d[0]);
	json_object_put(d[2]);
}

static void t_too_large(void)
{
	/* One string of 1 MiB, five times: over REPORTWORK_FILE_MAX. */
	size_t n = 1024 * 1024;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	json_object *o = json_object_new_object();
	for (int i = 0; i < 5; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		json_object_object_add(o, k, json_object_new_string(big));
	}
	json_object *d[3] = { o, NULL, NULL };
	struct sbuf sb;
	struct err e;
	sbuf_init(&sb, REPORTWORK_FILE_MAX + 1);
	CHECK_INT_EQ(reportwork_build_csv(1, TS, d, &sb, &e), APP_ERR_TOO_LARGE);
	sbuf_clear(&sb);
	sbuf_init(&sb, REPORTWORK_FILE_MAX + 1);
	CHECK_INT_EQ(reportwork_build_json(1, TS, d, &sb, &e), APP_ERR_TOO_LARGE);
	sbuf_clear(&sb);
	json_object_put(o);
	free(big);
}

static void t_answers(void)
{
	static const struct { const char *body; int kind; const char *job; } cases[] = {
		{ "{\"jobID\":\"abc123\",\"status\":\"processing\"}", REPORTWORK_ANSWER_PROCESSING, "abc123" },
		{ "{\"jobID\":\"abc\",\"status\":\"completed\",\"data\":{\"x\":1}}", REPORTWORK_ANSWER_COMPLETED, "abc" },
		{ "{\"status\":\"completed\",\"data\":{}}", REPORTWORK_ANSWER_COMPLETED, "" },
		{ "{\"status\":\"processing\"}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"jobID\":\"../etc\",\"status\":\"processing\"}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"jobID\":\"a b\",\"status\":\"processing\"}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"jobID\":\"0123456789012345678901234567890123456789012345678901234567890123456789\",\"status\":\"processing\"}",
		  REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"jobID\":7,\"status\":\"processing\"}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"status\":\"completed\",\"data\":[1]}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"status\":\"completed\"}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"status\":\"done\",\"data\":{}}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"jobID\":\"abc\",\"status\":\"proc", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "[]", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "null", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"status\":\"completed\",\"data\":{}} trailing", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"status\":\"completed\",\"data\":{\"a\":\"\xff\"}}", REPORTWORK_ANSWER_MALFORMED, NULL },
		{ "{\"status\":\"completed\",\"data\":{\"a\":\"x\\u0000y\"}}", REPORTWORK_ANSWER_MALFORMED, NULL },
		/* json-c ends a key at U+0000: nothing of it reaches the database. */
		{ "{\"status\":\"completed\",\"data\":{\"a\\u0000\":1}}", REPORTWORK_ANSWER_COMPLETED, "" },
		{ "{\"status\":\"completed\",\"data\":{\"a\":\"\\\\u0000\"}}", REPORTWORK_ANSWER_COMPLETED, "" },
		{ "{\"status\":\"completed\",\"data\":{\"a\":[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]}}",
		  REPORTWORK_ANSWER_MALFORMED, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct reportwork_answer a;
		reportwork_parse_answer(cases[i].body, strlen(cases[i].body), &a);
		if ((int)a.kind != cases[i].kind)
			fprintf(stderr, "  case %zu: %s\n", i, cases[i].body);
		CHECK_INT_EQ(a.kind, cases[i].kind);
		if (cases[i].job != NULL)
			CHECK_STR_EQ(a.job_id, cases[i].job);
		if (a.kind == REPORTWORK_ANSWER_MALFORMED)
			CHECK(a.why != NULL);
		if (a.data != NULL)
			json_object_put(a.data);
	}
	/* Too large. */
	size_t n = REPORTWORK_BODY_MAX + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	struct reportwork_answer a;
	reportwork_parse_answer(big, n, &a);
	CHECK_INT_EQ(a.kind, REPORTWORK_ANSWER_MALFORMED);
	free(big);
}

TEST_MAIN(
	{ "progress", t_progress },
	{ "csv_field", t_csv_field },
	{ "strip_nulls", t_strip_nulls },
	{ "build_csv", t_build_csv },
	{ "build_json", t_build_json },
	{ "too_large", t_too_large },
	{ "answers", t_answers },
)
