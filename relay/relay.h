/* relay: the ws-relay program's private contract between its three parts.
 *
 *   main.c  start-up, the libwebsockets context and its one event loop, the
 *           Kafka consumer thread that hands events over, shutdown.
 *   ws.c    one WebSocket connection speaking graphql-transport-ws: the
 *           handshake, connection_init and the token, subscribe/complete,
 *           ping/pong, the bounded send queue and every close code.
 *   hub.c   subscriptions: the index (tenant, user) -> subscriptions, event
 *           validation, the per-report ordering filter and the fan-out.
 *
 * Threads: everything here runs on the event-loop thread, except
 * relay_inbox_push() (the Kafka thread).  Nothing blocks the loop. */
#ifndef RELAY_H
#define RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "arena.h"
#include "gql.h"
#include "token.h"

#define RELAY_SUBPROTOCOL "graphql-transport-ws"
#define RELAY_PATH "/graphql"

/* Close codes (graphql-transport-ws and RFC 6455) and what sends them. */
enum relay_close {
	RELAY_CLOSE_GOING_AWAY = 1001,	/* SIGTERM */
	RELAY_CLOSE_POLICY = 1008,	/* send queue overflow, keep-alive timeout */
	RELAY_CLOSE_TOO_BIG = 1009,	/* message over RELAY_MAX_MSG_BYTES */
	RELAY_CLOSE_INTERNAL = 1011,	/* unexpected server failure */
	RELAY_CLOSE_TRY_LATER = 1013,	/* RELAY_MAX_CONNS reached */
	RELAY_CLOSE_BAD_REQUEST = 4400,	/* invalid message */
	RELAY_CLOSE_UNAUTHORIZED = 4401,/* subscribe before connection_ack */
	RELAY_CLOSE_FORBIDDEN = 4403,	/* token refused, or expired while open */
	RELAY_CLOSE_SUBPROTOCOL = 4406,	/* graphql-transport-ws not negotiated */
	RELAY_CLOSE_INIT_TIMEOUT = 4408,/* no connection_init in time */
	RELAY_CLOSE_DUP_ID = 4409,	/* subscriber for that id already exists */
	RELAY_CLOSE_DUP_INIT = 4429,	/* too many initialisation requests */
};

enum relay_sub_kind { RELAY_SUB_READY, RELAY_SUB_PROGRESS };

enum { RELAY_SUB_ID_MAX = 128 };	/* bytes of a subscription id */

#define RELAY_REPORT_ANY INT64_MIN	/* reportProgress without id */

struct relay_out;
struct relay_user;

/* One subscription: prepared once into its own arena. */
struct relay_sub {
	struct relay_conn *conn;
	struct relay_sub *cnext;		/* the connection's list */
	struct relay_sub *uprev, *unext;	/* the user's list in the index */
	struct relay_user *user;		/* index node */
	struct arena *arena;			/* owns prep, query copy */
	struct gql_prepared *prep;
	enum relay_sub_kind kind;
	int64_t report_id;			/* reportProgress(id); RELAY_REPORT_ANY: all */
	char id[];				/* the client's id, NUL-terminated */
};

enum relay_conn_state {
	RELAY_CONN_NEW,		/* waiting for connection_init */
	RELAY_CONN_READY,	/* acknowledged */
};

/* The per-session data of libwebsockets (zeroed by it).  Kept small: an idle
 * authenticated connection costs this plus libwebsockets' own state. */
struct relay_conn {
	struct lws *wsi;
	struct relay_conn *prev, *next;	/* every connection (sweeps, SIGTERM) */
	struct relay_sub *subs;
	struct relay_out *out_head, *out_tail;
	char *rx;			/* a message arriving in pieces (malloc) */
	size_t rx_len;
	int64_t opened_ms, last_rx_ms, last_ping_ms, exp_ms;
	long long user_id;
	uint32_t id;			/* for logs */
	uint32_t nsubs, nout;
	uint16_t close_code;		/* nonzero: closing with this code */
	uint16_t peer_close_code;	/* code the peer closed with */
	uint8_t state;			/* enum relay_conn_state */
	bool counted;			/* in the connection list */
	const char *close_reason;	/* static text */
	char tenant[TOKEN_TENANT_MAX];
};

/* The relay's process-wide state (main.c owns it). */
struct relay {
	struct lws_context *ctx;
	struct gql_schema *schema;
	struct gql_limits limits;
	struct token_cfg tcfg;
	struct relay_conn *conns;	/* list head */
	uint32_t nconns;
	uint32_t next_conn_id;
	bool stopping;
	/* settings */
	uint32_t max_conns, max_subs, send_queue_max;
	size_t max_msg;
	int64_t init_timeout_ms, ping_interval_ms;
};

extern struct relay relay_g;

/* ---- ws.c --------------------------------------------------------------- */

/* The libwebsockets callback of the graphql-transport-ws protocol. */
int relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);

/* Periodic duties for every connection: init timeout, token expiry,
 * keep-alive pings, dead peers.  Called by main.c's timer. */
void relay_ws_sweep(int64_t now_ms);

/* Closes every connection with 1001 (SIGTERM). */
void relay_ws_close_all(void);

/* Queues text[0..len) (copied) for c.  A full queue closes c with 1008;
 * a closing connection drops it.  Never blocks. */
void relay_conn_send(struct relay_conn *c, const char *text, size_t len);

/* Starts closing c with code and reason (a static string); the close frame
 * goes out when the socket is writable, else the socket is dropped after a
 * grace period.  Queued messages are discarded.  Idempotent. */
void relay_conn_close(struct relay_conn *c, uint16_t code, const char *reason);

/* ---- hub.c -------------------------------------------------------------- */

/* Adds s (s->conn, kind, report_id set) to the index under the connection's
 * tenant and user. */
void relay_hub_add(struct relay_sub *s);

/* Removes s from the index and its connection's list, frees it. */
void relay_hub_remove(struct relay_sub *s);

/* Handles one Kafka message of topic (report.ready or report.progress):
 * validates it, filters duplicates and regressions, and sends `next` to
 * every matching subscription.  Invalid events are logged and skipped. */
void relay_hub_event(const char *topic, const char *key, size_t key_len,
    const char *payload, size_t len);

/* Frees the index and the report-state table (shutdown). */
void relay_hub_free(void);

#endif
