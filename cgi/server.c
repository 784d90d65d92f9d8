#include "server.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "cfg.h"
#include "clock.h"
#include "deps.h"
#include "download.h"
#include "graphql.h"
#include "health.h"
#include "http.h"
#include "log.h"

enum {
	SLOW_REQUEST_MS = 1000,
	IDLE_TICK_SEC = 1,	/* housekeeping while no request arrives */
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
	FCGX_ShutdownPending();
}

static void on_hup(int sig)
{
	(void)sig;
	reopen_requested = 1;
}

/* SIGALRM only interrupts an idle accept() so that housekeeping runs. */
static void on_alarm(int sig)
{
	(void)sig;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: accept() must return so the loop sees the flag. */
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static void dispatch(struct http_req *r, struct deps *d)
{
	if (strcmp(r->path, "/graphql") == 0)
		graphql_handle(r, d);
	else if (strcmp(r->path, "/healthz") == 0)
		health_handle(r, d);
	else if (strncmp(r->path, "/reports/", 9) == 0)
		download_handle(r, d);
	else
		http_respond_error(r, 404, APP_ERR_NOT_FOUND, "not found", NULL);
}

int server_run(int listen_fd)
{
	install_signals();
	struct deps deps;
	char errbuf[256];
	if (deps_init(&deps, errbuf, sizeof errbuf) != 0) {
		log_kv(LOG_ERROR, "worker_init_failed", "err", errbuf, NULL);
		return 1;
	}
	struct arena *arena = arena_new(0);
	if (graphql_init() != 0) {
		log_kv(LOG_ERROR, "graphql_init_failed", NULL);
		arena_free(arena);
		deps_free(&deps);
		return 1;
	}
	FCGX_Request req;
	if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_kv(LOG_ERROR, "fcgi_init_failed", NULL);
		return 1;
	}
	log_kv(LOG_INFO, "worker_started", NULL);
	while (!stop_requested) {
		if (reopen_requested) {
			reopen_requested = 0;
			if (log_reopen() != 0)
				log_kv(LOG_ERROR, "log_reopen_failed", "err", strerror(errno), NULL);
		}
		deps_tick(&deps);
		alarm(IDLE_TICK_SEC);
		int rc = FCGX_Accept_r(&req);
		int accept_errno = errno;
		alarm(0);
		if (rc < 0) {
			if (stop_requested)
				break;
			if (accept_errno == EINTR)
				continue;
			log_kv(LOG_ERROR, "accept_failed", "err", strerror(accept_errno), NULL);
			break;
		}
		int64_t t0 = clock_mono_us();
		struct http_req r;
		http_req_init(&r, &req, arena);
		log_ctx_set("req", r.request_id[0] ? r.request_id : NULL);
		dispatch(&r, &deps);
		if (!r.responded)
			http_respond_error(&r, 500, APP_ERR_INTERNAL, "internal error", NULL);
		FCGX_Finish_r(&req);
		int64_t ms = (clock_mono_us() - t0) / 1000;
		if (ms >= SLOW_REQUEST_MS) {
			struct log_line l;
			log_begin(&l, LOG_WARN, "slow_request");
			log_str(&l, "path", r.path);
			log_int(&l, "ms", ms);
			log_end(&l);
		}
		log_ctx_clear();
		arena_reset(arena);
	}
	log_kv(LOG_INFO, "worker_stopping", NULL);
	FCGX_Free(&req, 0);
	graphql_shutdown();
	arena_free(arena);
	deps_free(&deps);
	return 0;
}
