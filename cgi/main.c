/* graphql-fcgi: the FastCGI pool.
 *
 * The master process opens the unix socket, forks FCGI_WORKERS workers that
 * share it, restarts a worker that dies (with a growing delay if they keep
 * dying), forwards SIGHUP, and on SIGTERM stops the workers, removes the
 * socket and exits 0.  The workers run server_run(). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "cfg.h"
#include "crypto.h"
#include "clock.h"
#include "log.h"
#include "server.h"

enum {
	LISTEN_BACKLOG = 1024,
	MAX_WORKERS = 256,
	RESPAWN_MIN_MS = 100,
	RESPAWN_MAX_MS = 5000,
	QUICK_DEATH_MS = 1000,	/* a worker dying sooner than this backs off */
	STOP_GRACE_MS = 10000,
};

struct slot {
	pid_t pid;		/* 0: not running */
	int64_t started_ms;
	int64_t respawn_at_ms;
	int delay_ms;
};

static struct slot slots[MAX_WORKERS];
static int nslots;

/* True if a live server accepts connections on the unix socket at path. */
static bool socket_in_use(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path)
		return false;
	memcpy(sa.sun_path, path, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool used = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return used;
}

static int open_listener(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_kv(LOG_ERROR, "socket_path_taken", "path", path,
			    "err", "exists and is not a socket", NULL);
			return -1;
		}
		if (socket_in_use(path)) {
			log_kv(LOG_ERROR, "socket_in_use", "path", path,
			    "hint", "another pool is running; stop it or set FCGI_SOCKET", NULL);
			return -1;
		}
		unlink(path);	/* stale socket of a pool that died */
	}
	int fd = FCGX_OpenSocket(path, LISTEN_BACKLOG);
	if (fd < 0) {
		log_kv(LOG_ERROR, "listen_failed", "path", path, "err", strerror(errno), NULL);
		return -1;
	}
	/* nginx's workers run as the same user (nginx.conf) */
	if (chmod(path, 0660) != 0)
		log_kv(LOG_WARN, "chmod_failed", "path", path, "err", strerror(errno), NULL);
	return fd;
}

static void spawn(struct slot *s, int listen_fd, const sigset_t *old_mask)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_kv(LOG_ERROR, "fork_failed", "err", strerror(errno), NULL);
		s->respawn_at_ms = clock_mono_ms() + RESPAWN_MAX_MS;
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, old_mask, NULL);
		_exit(server_run(listen_fd));
	}
	s->pid = pid;
	s->started_ms = clock_mono_ms();
	s->respawn_at_ms = 0;
}

static struct slot *slot_of(pid_t pid)
{
	for (int i = 0; i < nslots; i++)
		if (slots[i].pid == pid)
			return &slots[i];
	return NULL;
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *s = slot_of(pid);
		if (s == NULL)
			continue;
		struct log_line l;
		log_begin(&l, LOG_WARN, "worker_died");
		log_int(&l, "worker_pid", pid);
		if (WIFSIGNALED(status))
			log_int(&l, "signal", WTERMSIG(status));
		else
			log_int(&l, "exit", WEXITSTATUS(status));
		log_end(&l);
		int64_t now = clock_mono_ms();
		if (now - s->started_ms < QUICK_DEATH_MS) {
			s->delay_ms = s->delay_ms ? s->delay_ms * 2 : RESPAWN_MIN_MS;
			if (s->delay_ms > RESPAWN_MAX_MS)
				s->delay_ms = RESPAWN_MAX_MS;
		} else {
			s->delay_ms = 0;
		}
		s->pid = 0;
		s->respawn_at_ms = now + s->delay_ms;
	}
}

static void signal_all(int sig)
{
	for (int i = 0; i < nslots; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

static int live_workers(void)
{
	int n = 0;
	for (int i = 0; i < nslots; i++)
		n += slots[i].pid > 0;
	return n;
}

static void stop_all(void)
{
	signal_all(SIGTERM);
	int64_t deadline = clock_mono_ms() + STOP_GRACE_MS;
	while (live_workers() > 0 && clock_mono_ms() < deadline) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid > 0) {
			struct slot *s = slot_of(pid);
			if (s != NULL)
				s->pid = 0;
		} else if (errno == ECHILD) {
			break;
		}
	}
	if (live_workers() > 0) {
		log_kv(LOG_WARN, "workers_killed", NULL);
		signal_all(SIGKILL);
		while (waitpid(-1, NULL, 0) > 0)
			;
	}
}

int main(void)
{
	cfg_load_or_exit(CFG_CGI);
	const struct config *c = cfg();
	log_init("cgi", (enum log_level)c->log_level);
	if (c->log_file[0] != '\0' && log_open(c->log_file) != 0) {
		fprintf(stderr, "cannot open LOG_FILE %s: %s\n", c->log_file, strerror(errno));
		return 2;
	}
	/* Keys are checked here too, so a bad one stops the start-up with one
	 * line instead of failing in every worker. */
	char kerr[256];
	struct crypto_keys *keys = crypto_keys_from_cfg(c, kerr, sizeof kerr);
	if (keys == NULL) {
		fprintf(stderr, "configuration: DATA_KEY, DATA_KEY_ID or DATA_KEYS_OLD is invalid (%s)\n", kerr);
		return 2;
	}
	crypto_keys_free(keys);
	if (FCGX_Init() != 0) {
		log_kv(LOG_ERROR, "fcgi_init_failed", NULL);
		return 1;
	}
	int listen_fd = open_listener(c->fcgi_socket);
	if (listen_fd < 0)
		return 1;

	sigset_t mask, old_mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);

	nslots = c->fcgi_workers;
	char workers[16];
	if (snprintf(workers, sizeof workers, "%d", nslots) >= (int)sizeof workers)
		workers[0] = '\0';
	log_kv(LOG_INFO, "pool_started", "socket", c->fcgi_socket, "workers", workers, NULL);
	for (int i = 0; i < nslots; i++)
		spawn(&slots[i], listen_fd, &old_mask);

	for (;;) {
		struct timespec tick = { 0, 200 * 1000 * 1000 };
		int sig = sigtimedwait(&mask, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			if (log_reopen() != 0)
				log_kv(LOG_ERROR, "log_reopen_failed", "err", strerror(errno), NULL);
			signal_all(SIGHUP);
		}
		reap();
		int64_t now = clock_mono_ms();
		for (int i = 0; i < nslots; i++)
			if (slots[i].pid == 0 && now >= slots[i].respawn_at_ms)
				spawn(&slots[i], listen_fd, &old_mask);
	}
	log_kv(LOG_INFO, "pool_stopping", NULL);
	stop_all();
	close(listen_fd);
	unlink(c->fcgi_socket);
	log_kv(LOG_INFO, "pool_stopped", NULL);
	return 0;
}
