#include "jsonh.h"
#include "testlib.h"

static const struct { const char *in; int ok; const char *why; } parse_cases[] = {
	{ "{\"a\":1}", 1, NULL },
	{ "  [1,2]\n", 1, NULL },
	{ "\"s\"", 1, NULL },
	{ "{\"a\":1} x", 0, "invalid JSON" },
	{ "{\"a\":1}{}", 0, "invalid JSON" },
	{ "{\"a\":", 0, "invalid JSON" },
	{ "{a:1}", 0, "invalid JSON" },
	{ "[1,]", 0, "invalid JSON" },
	{ "'x'", 0, "invalid JSON" },
	{ "", 0, "invalid JSON" },
	{ "nul", 0, "invalid JSON" },
};

static void t_parse(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		const char *why = NULL;
		json_object *o = jsonh_parse(parse_cases[i].in, strlen(parse_cases[i].in), 0, &why);
		CHECK_INT_EQ(o != NULL || why == NULL, parse_cases[i].ok);
		if (!parse_cases[i].ok)
			CHECK_STR_EQ(why, parse_cases[i].why);
		json_object_put(o);
	}
}

static void t_depth_limit(void)
{
	char deep[300];
	memset(deep, '[', 150);
	memset(deep + 150, ']', 150);
	const char *why = NULL;
	CHECK(jsonh_parse(deep, sizeof deep, 64, &why) == NULL);
	CHECK_STR_EQ(why, "JSON nested too deeply");
	json_object *o = jsonh_parse(deep + 100, 100, 64, &why);
	CHECK(o != NULL);
	json_object_put(o);
}

static void t_getters(void)
{
	const char *why;
	const char *text = "{\"s\":\"x/y\",\"i\":42,\"f\":1.5,\"o\":{\"k\":true},\"n\":null}";
	json_object *o = jsonh_parse(text, strlen(text), 0, &why);
	size_t len = 0;
	CHECK_STR_EQ(jsonh_str(o, "s", &len), "x/y");
	CHECK_INT_EQ(len, 3);
	CHECK(jsonh_str(o, "i", NULL) == NULL);
	CHECK(jsonh_str(o, "missing", NULL) == NULL);
	int64_t v = 0;
	CHECK(jsonh_int(o, "i", &v));
	CHECK_INT_EQ(v, 42);
	CHECK(!jsonh_int(o, "f", &v));
	CHECK(!jsonh_int(o, "s", &v));
	CHECK(jsonh_obj(o, "o") != NULL);
	CHECK(jsonh_obj(o, "n") == NULL);
	CHECK_STR_EQ(jsonh_text(o, &len), text);
	json_object_put(o);
}

TEST_MAIN(
	{ "parse", t_parse },
	{ "depth_limit", t_depth_limit },
	{ "getters", t_getters },
)
