/* libFuzzer harness: the credentials a client hands us — a bearer token
 * (token_verify) and a signed download URL (signurl_verify).
 *
 * Byte 0 chooses: even, the rest is a JWT; odd, the rest is "path?query" of
 * a download URL.  A correctly signed input made here is checked to verify,
 * so the fuzzer also exercises the success path. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "signurl.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "fuzz-secret-0123456789abcdef0123456789";

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
		struct token_cfg tc = { secret, sizeof secret - 1, 3600, "" };
		struct token_claims out;
		struct err e;
		if (token_verify(&tc, rest, n, 1800000000, &out, &e) == 0 &&
		    (out.user_id <= 0 || out.tenant_id[0] == '\0'))
			__builtin_trap();	/* accepted claims are complete */
		return 0;
	}
	char buf[4096];
	if (n >= sizeof buf)
		return 0;
	memcpy(buf, rest, n);
	buf[n] = '\0';
	char *q = strchr(buf, '?');
	if (q != NULL)
		*q++ = '\0';
	struct signurl_target t;
	int rc = signurl_verify(secret, sizeof secret - 1, buf, q ? q : "", 1800000000, &t);
	if (rc == SIGNURL_OK && (t.report_id <= 0 || t.tenant_id[0] == '\0'))
		__builtin_trap();
	return 0;
}
