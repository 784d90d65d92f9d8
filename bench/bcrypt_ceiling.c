/* bench-bcrypt: the ceiling for the login benchmark.  Times cost-N bcrypt
 * hashes (N = BCRYPT_COST, default 10) in this process and prints the
 * seconds per hash and the logins/s the machine could do at most: the
 * number of cores divided by that time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "password.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20;
	struct config c;
	char err[256];
	if (cfg_load_from(&c, CFG_TOOL, NULL, NULL, err, sizeof err) != 0) {
		/* only BCRYPT_COST matters here; fall back to the default */
		c.bcrypt_cost = 10;
	}
	char hash[PASSWORD_HASH_MAX];
	struct err e;
	double t0 = now();
	for (int i = 0; i < n; i++) {
		if (password_hash("benchmark-password", 18, c.bcrypt_cost, hash, &e) != 0) {
			fprintf(stderr, "hash failed: %s\n", e.msg);
			return 1;
		}
	}
	double per = (now() - t0) / n;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	printf("bcrypt cost %d: %.1f ms per hash; ceiling %ld cores / %.1f ms = %.1f logins/s\n",
	    c.bcrypt_cost, per * 1e3, cores, per * 1e3, (double)cores / per);
	return 0;
}
