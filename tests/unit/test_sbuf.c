#include "sbuf.h"
#include "testlib.h"

static void t_append_and_printf(void)
{
	struct sbuf sb;
	sbuf_init(&sb, 0);
	sbuf_puts(&sb, "abc");
	sbuf_putc(&sb, '-');
	sbuf_printf(&sb, "%d/%s", 42, "x");
	CHECK_STR_EQ(sb.p, "abc-42/x");
	CHECK_INT_EQ(sb.len, 8);
	CHECK(!sb.failed);
	sbuf_clear(&sb);
}

static void t_bound_is_sticky(void)
{
	struct sbuf sb;
	sbuf_init(&sb, 5);
	sbuf_puts(&sb, "12345");
	CHECK(!sb.failed);
	sbuf_putc(&sb, '6');
	CHECK(sb.failed);
	CHECK_STR_EQ(sb.p, "12345");
	sbuf_reset(&sb);
	sbuf_puts(&sb, "ab");
	CHECK(!sb.failed);
	sbuf_printf(&sb, "%s", "toolong");
	CHECK(sb.failed);
	sbuf_puts(&sb, "c");	/* dropped: failure is sticky */
	CHECK_STR_EQ(sb.p, "ab");
	size_t len = 7;
	CHECK(sbuf_steal(&sb, &len) == NULL);
	CHECK(sb.p == NULL);
}

static void t_growth(void)
{
	struct sbuf sb;
	sbuf_init(&sb, 0);
	for (int i = 0; i < 10000; i++)
		sbuf_putc(&sb, (char)('a' + i % 26));
	CHECK_INT_EQ(sb.len, 10000);
	CHECK_INT_EQ(sb.p[9999], 'a' + 9999 % 26);
	CHECK_INT_EQ(sb.p[10000], 0);
	size_t len = 0;
	char *p = sbuf_steal(&sb, &len);
	CHECK_INT_EQ(len, 10000);
	free(p);
}

static const struct { const char *in; size_t n; const char *out; } json_cases[] = {
	{ "plain", 5, "\"plain\"" },
	{ "q\"b\\s/", 6, "\"q\\\"b\\\\s/\"" },
	{ "\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"" },
	{ "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
	{ "nul\0x", 5, "\"nul\\u0000x\"" },
	{ "\xC3\xA9t\xC3\xA9", 5, "\"\xC3\xA9t\xC3\xA9\"" },
	{ "\xF0\x9F\x98\x80", 4, "\"\xF0\x9F\x98\x80\"" },
	{ "bad\xFF", 4, "\"bad\xEF\xBF\xBD\"" },
	{ "\xC0\xAF", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\"" },	/* overlong '/' */
	{ "\xED\xA0\x80", 3, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"" }, /* surrogate */
	{ "\xE2\x82", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\"" },	/* truncated */
};

static void t_json_str(void)
{
	for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
		struct sbuf sb;
		sbuf_init(&sb, 0);
		sbuf_json_str(&sb, json_cases[i].in, json_cases[i].n);
		CHECK_STR_EQ(sb.p, json_cases[i].out);
		sbuf_clear(&sb);
	}
}

TEST_MAIN(
	{ "append_and_printf", t_append_and_printf },
	{ "bound_is_sticky", t_bound_is_sticky },
	{ "growth", t_growth },
	{ "json_str", t_json_str },
)
