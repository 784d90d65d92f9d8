#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"

static const struct { const char *in; const char *out; } esc_cases[] = {
	{ "plain-value_1.2:3/4@x+y,z%", "plain-value_1.2:3/4@x+y,z%" },
	{ "", "\"\"" },
	{ "two words", "\"two words\"" },
	{ "k=v", "\"k=v\"" },
	{ "quote\"back\\slash", "\"quote\\\"back\\\\slash\"" },
	{ "line\nbreak\r\ttab", "\"line\\nbreak\\r\\ttab\"" },
	{ "ctl\x01\x7f", "\"ctl\\x01\\x7f\"" },
	{ "caf\xC3\xA9", "\"caf\xC3\xA9\"" },
	{ "bad\xFF", "\"bad\\xff\"" },
	{ "level=error ev=forged", "\"level=error ev=forged\"" },
};

static void t_escape(void)
{
	for (size_t i = 0; i < sizeof esc_cases / sizeof esc_cases[0]; i++) {
		char out[128];
		log_escape(out, sizeof out, esc_cases[i].in, strlen(esc_cases[i].in));
		CHECK_STR_EQ(out, esc_cases[i].out);
	}
}

static void t_escape_truncates_inside_quotes(void)
{
	char out[12];
	log_escape(out, sizeof out, "a b c d e f g h i j", 19);
	CHECK(strlen(out) < sizeof out);
	CHECK_INT_EQ(out[0], '"');
	CHECK_INT_EQ(out[strlen(out) - 1], '"');
}

/* Captures the lines written while fn runs. */
static char captured[8192];

static void capture(void (*fn)(void))
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT_EQ(log_open(path), 0);
	fn();
	CHECK_INT_EQ(log_open(NULL), 0);
	fd = open(path, O_RDONLY);
	ssize_t n = read(fd, captured, sizeof captured - 1);
	captured[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static void emit_lines(void)
{
	log_kv(LOG_ERROR, "db_query", "tenant", "tenant a", "err", "x\ny", NULL);
	log_kv(LOG_DEBUG, "hidden", NULL);
	log_ctx_set("req", "r1");
	struct log_line l;
	log_begin(&l, LOG_WARN, "slow");
	log_int(&l, "ms", 1234);
	log_end(&l);
	log_ctx_clear();
}

static void t_line_format(void)
{
	log_init("a-long-component-name", LOG_INFO);
	capture(emit_lines);
	/* every line has the full prefix, even with a long component name */
	char *first = captured;
	char *second = strchr(first, '\n');
	CHECK(second != NULL);
	if (second == NULL)
		return;
	*second++ = '\0';
	CHECK(strncmp(first, "ts=", 3) == 0);
	CHECK(strstr(first, " level=error comp=a-long-component-name pid=") != NULL);
	CHECK(strstr(first, " ev=db_query tenant=\"tenant a\" err=\"x\\ny\"") != NULL);
	CHECK(strncmp(second, "ts=", 3) == 0);
	CHECK(strstr(second, " level=warn ") != NULL);
	CHECK(strstr(second, " ev=slow ms=1234 req=r1\n") != NULL);
	CHECK(strstr(captured, "hidden") == NULL);
}

static void emit_long(void)
{
	char big[4000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_kv(LOG_INFO, "big", "v", big, NULL);
}

static void t_long_line_truncated(void)
{
	log_init("t", LOG_INFO);
	capture(emit_long);
	size_t n = strlen(captured);
	CHECK(n <= LOG_LINE_MAX);
	CHECK(n > 0 && captured[n - 1] == '\n');
	CHECK(strstr(captured, " truncated=1\n") != NULL);
}

TEST_MAIN(
	{ "escape", t_escape },
	{ "escape_truncates_inside_quotes", t_escape_truncates_inside_quotes },
	{ "line_format", t_line_format },
	{ "long_line_truncated", t_long_line_truncated },
)
