/* kafka-mock: the Kafka stand-in broker for machines without Apache Kafka.
 *
 * Hosts librdkafka's mock cluster (rdkafka_mock.h) as its own process: ONE
 * broker on 127.0.0.1:KAFKA_MOCK_PORT, the topics report.create,
 * report.progress and report.ready with KAFKA_MOCK_PARTITIONS partitions
 * each.  When the cluster is up and the topics exist it writes
 * "127.0.0.1:PORT\n" to KAFKA_MOCK_BOOTSTRAP_FILE (temp file + rename); that
 * file is the readiness signal.  SIGTERM/SIGINT destroy the cluster, remove
 * the file and exit 0.  Exit 1: the port is taken or the cluster failed;
 * exit 2: bad configuration.
 *
 * Why bind() is defined here: the mock cluster binds 127.0.0.1 port 0 (an
 * ephemeral port) and has no option for a fixed one.  Clients survive a
 * restart of the stand-in only if it comes back on the same address, so
 * main() first binds 127.0.0.1:KAFKA_MOCK_PORT itself (SO_REUSEADDR) and this
 * executable interposes bind(): the FIRST bind of an AF_INET socket to
 * loopback port 0 while armed receives that socket instead (dup3); every
 * other bind goes to the real one unchanged.  listen() is interposed too,
 * only to raise the mock's backlog of 5 on that socket.  Limits of the mock,
 * measured with librdkafka 2.0.2: a restart loses all data and committed
 * offsets; it silently drops data beyond about
 * 5 MB per partition; admin calls (CreateTopics) are not supported. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cfg.h"
#include "log.h"
#include "proc.h"

static const char *const mock_topics[] = {
	"report.create", "report.progress", "report.ready",
};

enum { ERRSTR_MAX = 512, PATH_BUF_MAX = 4200, ADDR_MAX = 64 };

/* --- bind() interposition ------------------------------------------------ */

/* The configured port is bound by main() (kafka_mock_bind_prepare) before the
 * cluster exists, so a taken port is reported plainly: librdkafka 2.0.2
 * asserts (rd_kafka_mock_cluster_destroy, cluster_cnt > 0) when a mock
 * broker's own bind fails.  The interposed bind() then hands that socket to
 * the mock by dup3()ing it onto the mock's descriptor. */
static atomic_int prebound_fd = -1;	/* -1: disarmed */
static atomic_int mock_listen_fd = -1;	/* the mock's fd that got our socket */

enum { MOCK_LISTEN_BACKLOG = 512 };	/* the mock asks for 5 */

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*listen_fn)(int, int);

/* POSIX allows converting dlsym's result to a function pointer. */
static void *next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static bind_fn real_bind(void)
{
	static _Atomic(bind_fn) fn;
	bind_fn f = atomic_load(&fn);
	if (f == NULL) {
		union { void *p; bind_fn f; } u = { .p = next_sym("bind") };
		f = u.f;
		atomic_store(&fn, f);
	}
	return f;
}

static listen_fn real_listen(void)
{
	static _Atomic(listen_fn) fn;
	listen_fn f = atomic_load(&fn);
	if (f == NULL) {
		union { void *p; listen_fn f; } u = { .p = next_sym("listen") };
		f = u.f;
		atomic_store(&fn, f);
	}
	return f;
}

/* Exported from the executable so that librdkafka's calls resolve here
 * (the build uses -fvisibility=hidden). */
__attribute__((visibility("default")))
int bind(int fd, const struct sockaddr *addr, socklen_t len);
__attribute__((visibility("default")))
int listen(int fd, int backlog);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	bind_fn f = real_bind();
	if (f == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (atomic_load(&prebound_fd) < 0 || addr == NULL ||
	    addr->sa_family != AF_INET ||
	    len < (socklen_t)sizeof(struct sockaddr_in))
		return f(fd, addr, len);
	struct sockaddr_in sin;
	memcpy(&sin, addr, sizeof sin);
	if (sin.sin_port != 0 || sin.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		return f(fd, addr, len);
	/* Only the first matching bind gets the configured port. */
	int pre = atomic_exchange(&prebound_fd, -1);
	if (pre < 0)
		return f(fd, addr, len);
	if (dup3(pre, fd, O_CLOEXEC) < 0) {
		int se = errno;
		(void)close(pre);	/* the dup3 error is the one reported */
		errno = se;
		return -1;
	}
	(void)close(pre);	/* fd now holds the socket; nothing to report */
	atomic_store(&mock_listen_fd, fd);
	return 0;
}

int listen(int fd, int backlog)
{
	listen_fn f = real_listen();
	if (f == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (fd == atomic_load(&mock_listen_fd) && backlog < MOCK_LISTEN_BACKLOG)
		backlog = MOCK_LISTEN_BACKLOG;
	return f(fd, backlog);
}

/* Binds 127.0.0.1:port (SO_REUSEADDR, so connections of a previous instance
 * left in TIME_WAIT do not block a restart) and arms bind().  0, or -1 with
 * errno set. */
static int kafka_mock_bind_prepare(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s < 0)
		return -1;
	int one = 1;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	bind_fn f = real_bind();
	if (f == NULL)
		errno = ENOSYS;
	if (f == NULL ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    f(s, (const struct sockaddr *)&sin, sizeof sin) != 0) {
		int se = errno;
		(void)close(s);	/* the bind error is the one reported */
		errno = se;
		return -1;
	}
	atomic_store(&prebound_fd, s);
	return 0;
}

/* Disarms bind(); true if the mock took the prepared socket. */
static bool kafka_mock_bind_disarm(void)
{
	int pre = atomic_exchange(&prebound_fd, -1);
	if (pre >= 0) {
		(void)close(pre);	/* unused: nothing to report */
		return false;
	}
	return true;
}

/* --- librdkafka logging --------------------------------------------------- */

static void on_rd_log(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
	(void)rk;
	/* The host handle has no bootstrap.servers on purpose. */
	enum log_level lv = strcmp(fac, "CONFWARN") == 0 ? LOG_DEBUG : log_level_from_syslog(level);
	struct log_line l;
	log_begin(&l, lv, "rdkafka_log");
	log_str(&l, "fac", fac);
	log_str(&l, "msg", buf);
	log_end(&l);
}

static void on_rd_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	struct log_line l;
	log_begin(&l, LOG_WARN, "rdkafka_error");
	log_str(&l, "code", rd_kafka_err2name((rd_kafka_resp_err_t)err));
	log_str(&l, "err", reason);
	log_end(&l);
}

/* --- bootstrap file ------------------------------------------------------- */

/* Writes "addr\n" to path atomically.  0, or -1 with errno set. */
static int write_bootstrap(const char *path, const char *addr)
{
	char tmp[PATH_BUF_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	int ok = fprintf(f, "%s\n", addr) > 0;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	int se = errno;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		se = errno;
		(void)unlink(tmp);	/* best effort: errno of the failure wins */
		errno = se;
		return -1;
	}
	return 0;
}

/* --- main ------------------------------------------------------------------ */

/* Creates the host handle and the one-broker cluster.  Returns 0, or 1 after
 * logging the reason (the handle, if any, is returned for destruction). */
static int cluster_start(int port, rd_kafka_t **rkp, rd_kafka_mock_cluster_t **mcp)
{
	char errstr[ERRSTR_MAX];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, on_rd_log);
	rd_kafka_conf_set_error_cb(conf, on_rd_error);
	/* The host handle talks to no broker; it only owns the cluster. */
	if (rd_kafka_conf_set(conf, "client.id", "kafka-mock", errstr,
	    sizeof errstr) != RD_KAFKA_CONF_OK) {
		log_kv(LOG_ERROR, "mock_conf_failed", "err", errstr, NULL);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (rk == NULL) {
		log_kv(LOG_ERROR, "mock_handle_failed", "err", errstr, NULL);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	*rkp = rk;

	if (kafka_mock_bind_prepare(port) != 0) {
		int be = errno;
		struct log_line l;
		log_begin(&l, LOG_ERROR, "mock_bind_failed");
		log_str(&l, "setting", "KAFKA_MOCK_PORT");
		log_int(&l, "port", port);
		log_str(&l, "err", be == EADDRINUSE ? "port already in use; choose "
		    "another KAFKA_MOCK_PORT or stop the process holding it" :
		    strerror(be));
		log_end(&l);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
	bool took = kafka_mock_bind_disarm();
	if (mc == NULL) {
		log_kv(LOG_ERROR, "mock_cluster_failed", "setting", "KAFKA_MOCK_PORT",
		    "err", "rd_kafka_mock_cluster_new failed", NULL);
		return 1;
	}
	if (!took) {
		log_kv(LOG_ERROR, "mock_bind_failed", "setting", "KAFKA_MOCK_PORT",
		    "err", "the mock cluster did not bind loopback port 0; bind() "
		    "interposition not in effect", "mock_bootstraps",
		    rd_kafka_mock_cluster_bootstraps(mc), NULL);
		rd_kafka_mock_cluster_destroy(mc);
		return 1;
	}
	*mcp = mc;
	return 0;
}

int main(int argc, char **argv)
{
	(void)argv;
	cfg_load_or_exit(CFG_KAFKA_MOCK);
	const struct config *c = cfg();
	log_init("kafka-mock", (enum log_level)c->log_level);
	if (c->log_file[0] != '\0' && log_open(c->log_file) != 0) {
		fprintf(stderr, "kafka-mock: cannot open LOG_FILE %s: %s\n",
		    c->log_file, strerror(errno));
		return 2;
	}
	if (argc > 1) {
		log_kv(LOG_ERROR, "usage", "err",
		    "kafka-mock takes no arguments; configure it with KAFKA_MOCK_* "
		    "environment variables", NULL);
		return 2;
	}

	/* Block the stop signals before librdkafka starts threads, so only
	 * sigwait() below sees them. */
	sigset_t stop;
	if (proc_block_signals(&stop) != 0) {
		log_kv(LOG_ERROR, "sigmask_failed", NULL);
		return 1;
	}

	int rc = 1;
	bool wrote_file = false;
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;
	const char *bfile = c->kafka_mock_bootstrap_file;

	if (cluster_start(c->kafka_mock_port, &rk, &mc) != 0)
		goto out;

	for (size_t i = 0; i < sizeof mock_topics / sizeof mock_topics[0]; i++) {
		rd_kafka_resp_err_t te = rd_kafka_mock_topic_create(mc,
		    mock_topics[i], c->kafka_mock_partitions, 1);
		if (te != RD_KAFKA_RESP_ERR_NO_ERROR) {
			log_kv(LOG_ERROR, "mock_topic_failed", "topic", mock_topics[i],
			    "err", rd_kafka_err2str(te), NULL);
			goto out;
		}
	}

	char addr[ADDR_MAX];
	int n = snprintf(addr, sizeof addr, "127.0.0.1:%d", c->kafka_mock_port);
	if (n < 0 || (size_t)n >= sizeof addr)
		goto out;
	if (bfile[0] != '\0') {
		if (write_bootstrap(bfile, addr) != 0) {
			log_kv(LOG_ERROR, "bootstrap_file_failed", "path", bfile,
			    "err", strerror(errno), NULL);
			goto out;
		}
		wrote_file = true;
	}
	{
		struct log_line l;
		log_begin(&l, LOG_INFO, "mock_ready");
		log_str(&l, "bootstrap", addr);
		log_str(&l, "mock_bootstraps", rd_kafka_mock_cluster_bootstraps(mc));
		log_int(&l, "topics", (long long)(sizeof mock_topics / sizeof mock_topics[0]));
		log_int(&l, "partitions", c->kafka_mock_partitions);
		log_str(&l, "file", bfile);
		log_end(&l);
	}

	if (proc_wait_stop(&stop, "mock_stopping") != 0)
		goto out;
	rc = 0;
out:
	/* Remove the readiness file first: the address goes away next. */
	if (wrote_file && unlink(bfile) != 0 && errno != ENOENT) {
		log_kv(LOG_WARN, "bootstrap_file_unlink_failed", "path", bfile,
		    "err", strerror(errno), NULL);
	}
	if (mc != NULL)
		rd_kafka_mock_cluster_destroy(mc);
	if (rk != NULL)
		rd_kafka_destroy(rk);
	log_kv(rc == 0 ? LOG_INFO : LOG_ERROR, "mock_exit", "status",
	    rc == 0 ? "0" : "1", NULL);
	return rc;
}
