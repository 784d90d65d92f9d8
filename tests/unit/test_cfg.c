#include "cfg.h"
#include "testlib.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *lookup(const char *name, void *ud)
{
	const char *const *kv = ud;
	for (size_t i = 0; kv[i] != NULL; i += 2)
		if (strcmp(kv[i], name) == 0)
			return kv[i + 1];
	return NULL;
}

static void t_defaults(void)
{
	const char *env[] = { NULL };
	struct config c;
	char err[256];
	CHECK_INT_EQ(cfg_load_from(&c, CFG_KAFKA_MOCK, lookup, env, err, sizeof err), 0);
	CHECK_INT_EQ(c.kafka_mock_port, 9092);
	CHECK_INT_EQ(c.kafka_mock_partitions, 3);
	CHECK_STR_EQ(c.log_file, "");
}

static const struct {
	const char *name, *value, *msg;
} bad_cases[] = {
	{ "FCGI_WORKERS", "abc", "configuration: FCGI_WORKERS must be an integer" },
	{ "FCGI_WORKERS", "12x", "configuration: FCGI_WORKERS must be an integer" },
	{ "FCGI_WORKERS", "0", "configuration: FCGI_WORKERS must be between 1 and 256" },
	{ "FCGI_WORKERS", "99999999999999999999", "configuration: FCGI_WORKERS must be an integer" },
	{ "LOG_LEVEL", "loud", "configuration: LOG_LEVEL must be debug, info, warn or error" },
	{ "MAX_BODY_BYTES", "10", "configuration: MAX_BODY_BYTES must be between 1024 and 67108864" },
	{ "REDIS_URL", "redis://a\nb", "configuration: REDIS_URL contains a control character" },
};

static void t_bad_values_name_the_variable(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const char *env[] = {
			"MASTER_DATABASE_URL", "postgresql://u:secretpw@h/db",
			"JWT_SECRET", "0123456789abcdef0123456789abcdef",
			"DATA_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"ADMIN_KEY", "admin-key-0123456789",
			"URL_SIGNING_KEY", "0123456789abcdef0123456789abcdef",
			bad_cases[i].name, bad_cases[i].value, NULL,
		};
		struct config c;
		char err[256] = "";
		CHECK_INT_EQ(cfg_load_from(&c, CFG_CGI, lookup, env, err, sizeof err), -1);
		CHECK_STR_EQ(err, bad_cases[i].msg);
		CHECK(strstr(err, "secretpw") == NULL);
	}
}

static void t_required(void)
{
	const char *env[] = { NULL };
	struct config c;
	char err[256] = "";
	CHECK_INT_EQ(cfg_load_from(&c, CFG_CGI, lookup, env, err, sizeof err), -1);
	CHECK_STR_EQ(err, "configuration: MASTER_DATABASE_URL is required but not set");
}

static void t_dump_hides_secrets(void)
{
	const char *env[] = {
		"MASTER_DATABASE_URL", "postgresql://u:secretpw@h/db",
		"JWT_SECRET", "0123456789abcdef0123456789abcdef",
		"DATA_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"ADMIN_KEY", "admin-key-0123456789",
		"URL_SIGNING_KEY", "0123456789abcdef0123456789abcdef",
		NULL,
	};
	struct config c;
	char err[256] = "";
	CHECK_INT_EQ(cfg_load_from(&c, CFG_CGI, lookup, env, err, sizeof err), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cfg_dump(f, &c, CFG_CGI);
	fclose(f);
	CHECK(strstr(buf, "MASTER_DATABASE_URL=(set, hidden)") != NULL);
	CHECK(strstr(buf, "secretpw") == NULL);
	CHECK(strstr(buf, "0123456789abcdef0123456789abcdef") == NULL);
	CHECK(strstr(buf, "FCGI_WORKERS=4") != NULL);
	free(buf);
}

TEST_MAIN(
	{ "defaults", t_defaults },
	{ "bad_values_name_the_variable", t_bad_values_name_the_variable },
	{ "required", t_required },
	{ "dump_hides_secrets", t_dump_hides_secrets },
)
