/* ws-relay: GraphQL subscriptions over WebSocket (graphql-transport-ws).
 *
 * One libwebsockets event loop serves every socket.  A second thread only
 * consumes Kafka (report.ready, report.progress) and hands each message to
 * the loop through a bounded inbox and lws_cancel_service(); the loop
 * validates it and fans it out (hub.c).
 *
 * Kafka: every relay instance has its own consumer group
 * ("ws-relay-<host>-<pid>-<random>") so every instance sees every event,
 * starting at the latest offset.  Offsets are never committed: a restarted
 * relay is a new group that starts at the latest offset anyway, and its
 * clients have reconnected and resubscribed, so old events are of no use.
 *
 * Signals: SIGTERM/SIGINT close every socket with 1001 "going away", stop
 * the consumer and exit 0; SIGHUP reopens the log file. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app_schema.h"
#include "cfg.h"
#include "clock.h"
#include "crypto.h"
#include "kafka.h"
#include "log.h"
#include "relay.h"
#include "proc.h"

enum {
	SWEEP_MS = 100,		/* timers: init timeout, expiry, pings, signals */
	STOP_GRACE_MS = 3000,	/* SIGTERM: wait this long for close frames */
	KAFKA_POLL_MS = 100,	/* the consumer thread's blocking poll */
	KAFKA_RETRY_MS = 1000,	/* after a fatal consumer error */
	INBOX_MAX = 20000,	/* events waiting for the loop */
	DRAIN_BATCH = 16,	/* events handled per loop turn */
	FD_SPARE = 256,		/* descriptors beyond the connections */
	RX_BUFFER = 1024,	/* lws rx buffer per connection (bytes) */
	TX_PACKET = 128 * 1024,	/* see protocols[] */
	GROUP_MAX = 160,
};

struct relay relay_g;

static volatile sig_atomic_t sig_stop, sig_hup;

/* ---- the inbox: Kafka thread -> event loop ----------------------------- */

struct inbox_item {
	struct inbox_item *next;
	struct kafka_msg *m;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_full;
	struct inbox_item *head, *tail;
	size_t n;
	atomic_bool stop;
	struct kafka_consumer *kc;
	char group[GROUP_MAX];
	pthread_t thread;
	bool running;
} K = { .mu = PTHREAD_MUTEX_INITIALIZER, .not_full = PTHREAD_COND_INITIALIZER };

static void inbox_push(struct kafka_msg *m)
{
	struct inbox_item *it = malloc(sizeof *it);
	if (it == NULL)
		abort();
	it->next = NULL;
	it->m = m;
	pthread_mutex_lock(&K.mu);
	while (K.n >= INBOX_MAX && !atomic_load(&K.stop)) {
		/* the loop is behind: stop reading Kafka until it catches up */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&K.not_full, &K.mu, &ts);
	}
	/* wake the loop only when the inbox was empty: otherwise the loop is
	 * still draining it (drain_sul), and a wake-up per message would keep
	 * libwebsockets busy with its cancel pipe instead of the sockets */
	bool wake = K.n == 0;
	if (K.tail != NULL)
		K.tail->next = it;
	else
		K.head = it;
	K.tail = it;
	K.n++;
	pthread_mutex_unlock(&K.mu);
	if (wake)
		lws_cancel_service(relay_g.ctx);
}

/* Takes up to max items (0: all); *more tells whether some are left. */
static struct inbox_item *inbox_take(size_t max, bool *more)
{
	pthread_mutex_lock(&K.mu);
	struct inbox_item *first = K.head, *last = NULL, *it = K.head;
	size_t n = 0;
	while (it != NULL && (max == 0 || n < max)) {
		last = it;
		it = it->next;
		n++;
	}
	if (last != NULL)
		last->next = NULL;
	K.head = it;
	if (it == NULL)
		K.tail = NULL;
	K.n -= n;
	*more = K.n > 0;
	pthread_cond_broadcast(&K.not_full);
	pthread_mutex_unlock(&K.mu);
	return first;
}

/* Handles a bounded batch, so that sockets get written between batches and
 * a burst of events does not overflow the queues of clients that read. */
static lws_sorted_usec_list_t drain_sul;

static void drain_cb(lws_sorted_usec_list_t *sul);

static void inbox_drain(void)
{
	bool more;
	struct inbox_item *it = inbox_take(DRAIN_BATCH, &more);
	if (more)	/* the rest next turn, after the sockets' turn */
		lws_sul_schedule(relay_g.ctx, 0, &drain_sul, drain_cb, 1);
	while (it != NULL) {
		struct inbox_item *next = it->next;
		struct kafka_msg *m = it->m;
		if (!relay_g.stopping)
			relay_hub_event(m->topic, m->key, m->key_len, m->payload, m->len);
		kafka_msg_free(m);
		free(it);
		it = next;
	}
}

static void drain_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	inbox_drain();
}

static struct kafka_consumer *consumer_new(struct err *e)
{
	static const char *const topics[] = { KAFKA_TOPIC_READY, KAFKA_TOPIC_PROGRESS };
	struct kafka_consumer_opts o;
	kafka_consumer_opts_init(&o, cfg(), "latest");
	o.client_id = "ws-relay";
	return kafka_consumer_new(cfg()->kafka_brokers, K.group, topics, 2, &o, e);
}

static void *kafka_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&K.stop)) {
		if (K.kc == NULL) {
			struct err e;
			K.kc = consumer_new(&e);
			if (K.kc == NULL) {
				log_kv(LOG_ERROR, "kafka_consumer_failed", "err", e.msg,
				    "detail", e.detail, NULL);
				usleep(KAFKA_RETRY_MS * 1000);
				continue;
			}
		}
		struct kafka_msg *m = NULL;
		struct err e;
		if (kafka_consumer_poll(K.kc, KAFKA_POLL_MS, &m, &e) != 0) {
			log_kv(LOG_ERROR, "kafka_consumer_fatal", "err", e.msg,
			    "detail", e.detail, NULL);
			kafka_consumer_free(K.kc);
			K.kc = NULL;
			usleep(KAFKA_RETRY_MS * 1000);
			continue;
		}
		if (m != NULL)
			inbox_push(m);
	}
	return NULL;
}

/* ---- the loop ----------------------------------------------------------- */

static int proto_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		inbox_drain();
		return 0;
	}
	return relay_ws_callback(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{
		.name = RELAY_SUBPROTOCOL,
		.callback = proto_callback,
		.per_session_data_size = sizeof(struct relay_conn),
		.rx_buffer_size = RX_BUFFER,
		/* most bytes per send(); 0 would mean rx_buffer_size, and every
		 * larger write would trickle out as partial sends */
		.tx_packet_size = TX_PACKET,
	},
	{ 0 }
};

static lws_sorted_usec_list_t sweep_sul;
static int64_t stop_deadline_ms;

static void begin_stop(void)
{
	relay_g.stopping = true;
	stop_deadline_ms = clock_mono_ms() + STOP_GRACE_MS;
	struct log_line l;
	log_begin(&l, LOG_INFO, "stopping");
	log_int(&l, "conns", relay_g.nconns);
	log_end(&l);
	relay_ws_close_all();
}

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (sig_hup) {
		sig_hup = 0;
		if (log_reopen() != 0)
			log_kv(LOG_ERROR, "log_reopen_failed", "err", strerror(errno), NULL);
	}
	if (sig_stop && !relay_g.stopping)
		begin_stop();
	if (!relay_g.stopping)
		relay_ws_sweep(clock_mono_ms());
	lws_sul_schedule(relay_g.ctx, 0, &sweep_sul, sweep_cb,
	    SWEEP_MS * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_hup = 1;
	else
		sig_stop = 1;
}

static void lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	struct log_line l;
	log_begin(&l, level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws");
	log_strn(&l, "msg", line, n);
	log_end(&l);
}

/* Raises the soft descriptor limit to the hard one; returns the limit. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_kv(LOG_WARN, "setrlimit_failed", "err", strerror(errno), NULL);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 1024;
	}
	return rl.rlim_cur;
}

static int make_group_id(void)
{
	char host[64] = "host";
	if (gethostname(host, sizeof host) != 0)
		memcpy(host, "host", 5);
	host[sizeof host - 1] = '\0';
	unsigned char rnd[4];
	char hex[9];
	if (crypto_random(rnd, sizeof rnd) != 0 ||
	    crypto_hex_encode(rnd, sizeof rnd, hex, sizeof hex) < 0)
		return -1;
	int n = snprintf(K.group, sizeof K.group, "ws-relay-%s-%ld-%s", host,
	    (long)getpid(), hex);
	return n < 0 || (size_t)n >= sizeof K.group ? -1 : 0;
}

int main(void)
{
	cfg_load_or_exit(CFG_RELAY);
	const struct config *c = cfg();
	log_init("relay", (enum log_level)c->log_level);
	if (c->log_file[0] != '\0' && log_open(c->log_file) != 0) {
		fprintf(stderr, "cannot open LOG_FILE %s: %s\n", c->log_file, strerror(errno));
		return 2;
	}
	int rc = 1;
	struct err e;

	relay_g.max_conns = (uint32_t)c->relay_max_conns;
	relay_g.max_subs = (uint32_t)c->relay_max_subs_per_conn;
	relay_g.send_queue_max = (uint32_t)c->relay_send_queue_max;
	relay_g.max_msg = (size_t)c->relay_max_msg_bytes;
	relay_g.init_timeout_ms = c->relay_init_timeout_ms;
	relay_g.ping_interval_ms = c->relay_ping_interval_ms;
	token_cfg_from(&relay_g.tcfg, c);
	app_schema_limits(c, &relay_g.limits);
	relay_g.schema = app_schema_new(&e);
	if (relay_g.schema == NULL) {
		log_kv(LOG_ERROR, "schema_failed", "err", e.msg, NULL);
		return 1;
	}

	proc_on_signals(on_signal);

	rlim_t nofile = raise_nofile();
	rlim_t want = (rlim_t)relay_g.max_conns + FD_SPARE;
	if (nofile < want) {
		struct log_line l;
		log_begin(&l, LOG_WARN, "fd_limit_low");
		log_int(&l, "nofile", (long long)nofile);
		log_int(&l, "wanted", (long long)want);
		log_end(&l);
		want = nofile;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = c->relay_port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.count_threads = 1;
	info.fd_limit_per_thread = (unsigned)want;
	info.pt_serv_buf_size = 4096;
	info.max_http_header_pool = 256;
	info.max_http_header_data = 4096;
	info.timeout_secs = 10;
	relay_g.ctx = lws_create_context(&info);
	if (relay_g.ctx == NULL) {
		log_kv(LOG_ERROR, "listen_failed", "err", "lws_create_context failed",
		    "hint", "RELAY_PORT in use?", NULL);
		goto out;
	}

	if (make_group_id() != 0) {
		log_kv(LOG_ERROR, "group_id_failed", NULL);
		goto out;
	}
	K.kc = consumer_new(&e);
	if (K.kc == NULL) {
		log_kv(LOG_ERROR, "kafka_consumer_failed", "err", e.msg, "detail", e.detail, NULL);
		goto out;
	}
	if (pthread_create(&K.thread, NULL, kafka_thread, NULL) != 0) {
		log_kv(LOG_ERROR, "thread_failed", NULL);
		goto out;
	}
	K.running = true;

	struct log_line l;
	log_begin(&l, LOG_INFO, "started");
	log_int(&l, "port", c->relay_port);
	log_str(&l, "group", K.group);
	log_int(&l, "max_conns", relay_g.max_conns);
	log_int(&l, "fd_limit", (long long)want);
	log_end(&l);

	lws_sul_schedule(relay_g.ctx, 0, &sweep_sul, sweep_cb, SWEEP_MS * LWS_US_PER_MS);
	for (;;) {
		if (sig_stop && !relay_g.stopping)
			begin_stop();
		if (relay_g.stopping && (relay_g.nconns == 0 ||
		    clock_mono_ms() >= stop_deadline_ms))
			break;
		if (lws_service(relay_g.ctx, 0) < 0) {
			log_kv(LOG_ERROR, "service_failed", NULL);
			goto out;
		}
	}
	rc = 0;
out:
	atomic_store(&K.stop, true);
	if (K.running) {
		pthread_mutex_lock(&K.mu);
		pthread_cond_broadcast(&K.not_full);
		pthread_mutex_unlock(&K.mu);
		pthread_join(K.thread, NULL);
	}
	if (K.kc != NULL) {
		/* a failed leave is logged by the module; the group is ours alone
		 * and the broker forgets it after the session timeout */
		if (kafka_consumer_close(K.kc, &e) != 0)
			log_kv(LOG_WARN, "kafka_close_failed", "err", e.msg, NULL);
		kafka_consumer_free(K.kc);
	}
	if (relay_g.ctx != NULL) {
		lws_sul_cancel(&sweep_sul);
		lws_sul_cancel(&drain_sul);
		lws_context_destroy(relay_g.ctx);	/* CLOSED for every socket left */
	}
	bool more;
	struct inbox_item *it = inbox_take(0, &more);
	while (it != NULL) {
		struct inbox_item *next = it->next;
		kafka_msg_free(it->m);
		free(it);
		it = next;
	}
	relay_hub_free();
	gql_schema_free(relay_g.schema);
	log_kv(LOG_INFO, "stopped", NULL);
	return rc;
}
