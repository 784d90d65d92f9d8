/* ws: one graphql-transport-ws connection.
 *
 * The protocol (github.com/enisdenjo/graphql-ws, PROTOCOL.md) as the relay
 * speaks it:
 *   - the subprotocol "graphql-transport-ws" must be offered, else 4406;
 *   - connection_init {payload: {Authorization: "Bearer <jwt>"}} (also
 *     "authorization", and a bare token with or without "Bearer ") within
 *     RELAY_INIT_TIMEOUT_MS, else 4408; a second one: 4429; a refused
 *     token: 4403; the token expiring while connected: 4403;
 *   - connection_ack, then subscribe {id, payload:{query, variables,
 *     operationName}}: before the ack 4401, an id in use 4409, a document
 *     the engine refuses (or not a subscription): an `error` message, the
 *     socket stays open;
 *   - next / complete from the server, complete from the client;
 *   - ping -> pong at any time; the server pings every
 *     RELAY_PING_INTERVAL_MS and drops a peer silent for 2.5 periods (1008);
 *   - anything malformed: 4400; a message over RELAY_MAX_MSG_BYTES: 1009;
 *     a send queue over RELAY_SEND_QUEUE_MAX messages: 1008.
 * Every outgoing message goes through the connection's bounded queue and is
 * written when libwebsockets says the socket is writable: nothing blocks. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "clock.h"
#include "jsonh.h"
#include "log.h"
#include "relay.h"

enum {
	CLOSE_GRACE_SEC = 3,	/* a close frame not written by then: dropped */
	MSG_MAX_DEPTH = 16,	/* JSON nesting of a client message */
	URI_MAX = 64,
	WRITE_COALESCE_MAX = 64 * 1024,	/* bytes of frames per raw write */
	FRAME_HDR_MAX = 10,	/* server frame header: 2 + 8 length bytes */
};

struct relay_out {
	struct relay_out *next;
	size_t len;
	unsigned char buf[];	/* LWS_PRE bytes, then the text */
};

static int64_t now_ms(void)
{
	return clock_mono_ms();
}

static void out_free_all(struct relay_conn *c)
{
	struct relay_out *o = c->out_head;
	while (o != NULL) {
		struct relay_out *next = o->next;
		free(o);
		o = next;
	}
	c->out_head = c->out_tail = NULL;
	c->nout = 0;
}

void relay_conn_close(struct relay_conn *c, uint16_t code, const char *reason)
{
	if (c->close_code != 0)
		return;
	c->close_code = code;
	c->close_reason = reason;
	out_free_all(c);
	lws_callback_on_writable(c->wsi);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_GRACE_SEC);
}

void relay_conn_send(struct relay_conn *c, const char *text, size_t len)
{
	if (c->close_code != 0)
		return;
	if (c->nout >= relay_g.send_queue_max) {
		struct log_line l;
		log_begin(&l, LOG_WARN, "send_queue_overflow");
		log_int(&l, "conn", c->id);
		log_str(&l, "tenant", c->tenant);
		log_int(&l, "user", c->user_id);
		log_int(&l, "queued", c->nout);
		log_end(&l);
		relay_conn_close(c, RELAY_CLOSE_POLICY, "send queue overflow");
		return;
	}
	struct relay_out *o = malloc(sizeof *o + LWS_PRE + len);
	if (o == NULL)
		abort();	/* STYLE.md: allocation failure aborts */
	o->next = NULL;
	o->len = len;
	memcpy(o->buf + LWS_PRE, text, len);
	if (c->out_tail != NULL)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->nout++;
	lws_callback_on_writable(c->wsi);
}

static void send_json(struct relay_conn *c, json_object *msg)
{
	size_t n;
	const char *text = json_object_to_json_string_length(msg,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	relay_conn_send(c, text, n);
}

static void send_literal(struct relay_conn *c, const char *text)
{
	relay_conn_send(c, text, strlen(text));
}

/* {"id":id,"type":"error","payload":errors} (errors is consumed). */
static void send_error(struct relay_conn *c, const char *id, json_object *errors)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "id", json_object_new_string(id));
	json_object_object_add(m, "type", json_object_new_string("error"));
	json_object_object_add(m, "payload", errors);
	send_json(c, m);
	json_object_put(m);
}

static void log_conn(struct log_line *l, const struct relay_conn *c)
{
	log_int(l, "conn", c->id);
	if (c->state == RELAY_CONN_READY) {
		log_str(l, "tenant", c->tenant);
		log_int(l, "user", c->user_id);
	}
}

/* ---- connection_init ---------------------------------------------------- */

/* The token in the init payload: {"Authorization": "Bearer t"},
 * {"authorization": ...}, either with a bare token, or the payload itself
 * a string.  Returns NULL if there is none. */
static const char *init_token(json_object *msg, size_t *len)
{
	json_object *p = NULL;
	if (!json_object_object_get_ex(msg, "payload", &p) || p == NULL)
		return NULL;
	const char *t = NULL;
	if (json_object_is_type(p, json_type_string)) {
		t = json_object_get_string(p);
		*len = (size_t)json_object_get_string_len(p);
	} else if (json_object_is_type(p, json_type_object)) {
		t = jsonh_str(p, "Authorization", len);
		if (t == NULL)
			t = jsonh_str(p, "authorization", len);
	}
	if (t == NULL)
		return NULL;
	while (*len > 0 && *t == ' ') {
		t++;
		(*len)--;
	}
	if (*len > 7 && strncasecmp(t, "Bearer ", 7) == 0) {
		t += 7;
		*len -= 7;
	}
	while (*len > 0 && *t == ' ') {
		t++;
		(*len)--;
	}
	while (*len > 0 && t[*len - 1] == ' ')
		(*len)--;
	return *len > 0 ? t : NULL;
}

static void on_init(struct relay_conn *c, json_object *msg)
{
	if (c->state == RELAY_CONN_READY) {
		relay_conn_close(c, RELAY_CLOSE_DUP_INIT, "Too many initialisation requests");
		return;
	}
	json_object *p = NULL;
	if (json_object_object_get_ex(msg, "payload", &p) && p != NULL &&
	    !json_object_is_type(p, json_type_object) &&
	    !json_object_is_type(p, json_type_string)) {
		relay_conn_close(c, RELAY_CLOSE_BAD_REQUEST,
		    "Invalid message received: connection_init payload must be an object");
		return;
	}
	size_t len = 0;
	const char *tok = init_token(msg, &len);
	struct token_claims cl;
	struct err e;
	err_clear(&e);
	int rc = tok == NULL ? err_set(&e, APP_ERR_UNAUTHENTICATED, "missing token",
	    "no Authorization in connection_init payload") :
	    token_verify(&relay_g.tcfg, tok, len, time(NULL), &cl, &e);
	if (rc != 0) {
		struct log_line l;
		log_begin(&l, LOG_INFO, "auth_refused");
		log_conn(&l, c);
		log_str(&l, "err", e.msg);
		log_str(&l, "detail", e.detail);
		log_end(&l);
		relay_conn_close(c, RELAY_CLOSE_FORBIDDEN,
		    strcmp(e.msg, "token expired") == 0 ? "Forbidden: token expired" :
		    tok == NULL ? "Forbidden: missing token" : "Forbidden: invalid token");
		return;
	}
	memcpy(c->tenant, cl.tenant_id, sizeof c->tenant);
	c->tenant[sizeof c->tenant - 1] = '\0';
	c->user_id = cl.user_id;
	c->exp_ms = now_ms() + (cl.exp - (long long)time(NULL)) * 1000;
	c->state = RELAY_CONN_READY;
	c->last_ping_ms = now_ms();
	send_literal(c, "{\"type\":\"connection_ack\"}");
	struct log_line l;
	log_begin(&l, LOG_INFO, "conn_auth");
	log_conn(&l, c);
	log_int(&l, "exp_in_s", cl.exp - (long long)time(NULL));
	log_end(&l);
}

/* ---- subscribe / complete ---------------------------------------------- */

static struct relay_sub *sub_find(struct relay_conn *c, const char *id)
{
	for (struct relay_sub *s = c->subs; s != NULL; s = s->cnext)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void json_put_cb(void *p)
{
	json_object_put(p);
}

static void on_subscribe(struct relay_conn *c, json_object *msg)
{
	size_t idlen = 0, qlen = 0;
	const char *id = jsonh_str(msg, "id", &idlen);
	json_object *p = jsonh_obj(msg, "payload");
	const char *query = p ? jsonh_str(p, "query", &qlen) : NULL;
	json_object *vars = NULL, *opn = NULL;
	if (p != NULL)
		json_object_object_get_ex(p, "variables", &vars);
	if (p != NULL)
		json_object_object_get_ex(p, "operationName", &opn);
	if (id == NULL || idlen == 0 || idlen >= RELAY_SUB_ID_MAX ||
	    strlen(id) != idlen || query == NULL ||
	    (vars != NULL && !json_object_is_type(vars, json_type_object)) ||
	    (opn != NULL && !json_object_is_type(opn, json_type_string))) {
		relay_conn_close(c, RELAY_CLOSE_BAD_REQUEST,
		    "Invalid message received: bad subscribe message");
		return;
	}
	if (c->state != RELAY_CONN_READY) {
		relay_conn_close(c, RELAY_CLOSE_UNAUTHORIZED, "Unauthorized");
		return;
	}
	if (sub_find(c, id) != NULL) {
		relay_conn_close(c, RELAY_CLOSE_DUP_ID, "Subscriber for this id already exists");
		return;
	}
	if (c->nsubs >= relay_g.max_subs) {
		send_error(c, id, gql_error_list("too many subscriptions on this connection",
		    APP_ERR_TOO_LARGE));
		return;
	}

	struct arena *a = arena_new(4096);
	struct gql_request req = {
		.query = arena_strndup(a, query, qlen),
		.query_len = qlen,
		.operation_name = opn ? arena_strdup(a, json_object_get_string(opn)) : NULL,
		.variables = vars,
	};
	if (vars != NULL) {	/* the prepared operation may keep pointers into it */
		json_object_get(vars);
		arena_cleanup_add(a, json_put_cb, vars);
	}
	struct gql_prepared *prep = NULL;
	json_object *errors = NULL;
	int rc = gql_prepare(relay_g.schema, &relay_g.limits, &req, a, &prep, &errors);
	const char *why = NULL;
	enum relay_sub_kind kind = RELAY_SUB_READY;
	int64_t report_id = RELAY_REPORT_ANY;
	if (rc != 0) {
		json_object *arr = NULL;
		if (errors != NULL && json_object_object_get_ex(errors, "errors", &arr))
			json_object_get(arr);
		else
			arr = gql_error_list("invalid subscription", APP_ERR_VALIDATION);
		json_object_put(errors);
		send_error(c, id, arr);
		struct log_line l;
		log_begin(&l, LOG_INFO, "sub_refused");
		log_conn(&l, c);
		log_str(&l, "err", app_err_name(rc));
		log_end(&l);
		goto fail;
	}
	if (gql_prepared_operation(prep) != GQL_OPERATION_SUBSCRIPTION) {
		why = "only subscriptions are served over WebSocket; send queries "
		    "and mutations with HTTP POST /graphql";
		goto refuse;
	}
	const char *field = gql_prepared_root_field(prep);
	if (field != NULL && strcmp(field, "reportProgress") == 0) {
		kind = RELAY_SUB_PROGRESS;
		json_object *args = NULL;
		struct err e;
		if (gql_prepared_root_args(prep, a, &args, &e) != 0) {
			json_object_put(args);
			why = "invalid arguments";
			goto refuse;
		}
		int64_t rid;
		if (jsonh_int(args, "id", &rid))
			report_id = rid;
		json_object_put(args);
	} else if (field == NULL || strcmp(field, "reportReady") != 0) {
		why = "unsupported subscription: use reportReady or reportProgress";
		goto refuse;
	}

	struct relay_sub *s = calloc(1, sizeof *s + idlen + 1);
	if (s == NULL)
		abort();
	memcpy(s->id, id, idlen + 1);
	s->conn = c;
	s->arena = a;
	s->prep = prep;
	s->kind = kind;
	s->report_id = report_id;
	relay_hub_add(s);
	struct log_line l;
	log_begin(&l, LOG_INFO, "sub_start");
	log_conn(&l, c);
	log_str(&l, "sub", s->id);
	log_str(&l, "field", field);
	if (report_id != RELAY_REPORT_ANY)
		log_int(&l, "report", report_id);
	log_end(&l);
	return;
refuse:
	send_error(c, id, gql_error_list(why, APP_ERR_BAD_INPUT));
fail:
	arena_free(a);
}

static void on_complete(struct relay_conn *c, json_object *msg)
{
	size_t idlen = 0;
	const char *id = jsonh_str(msg, "id", &idlen);
	if (id == NULL || idlen == 0 || idlen >= RELAY_SUB_ID_MAX) {
		relay_conn_close(c, RELAY_CLOSE_BAD_REQUEST,
		    "Invalid message received: bad complete message");
		return;
	}
	struct relay_sub *s = sub_find(c, id);
	if (s == NULL)
		return;	/* already finished: the client may race us */
	struct log_line l;
	log_begin(&l, LOG_INFO, "sub_complete");
	log_conn(&l, c);
	log_str(&l, "sub", s->id);
	log_str(&l, "by", "client");
	log_end(&l);
	relay_hub_remove(s);
}

/* ---- messages ---------------------------------------------------------- */

static void on_message(struct relay_conn *c, const char *text, size_t len)
{
	const char *why = NULL;
	json_object *msg = jsonh_parse(text, len, MSG_MAX_DEPTH, &why);
	const char *type = msg ? jsonh_str(msg, "type", NULL) : NULL;
	if (type == NULL) {
		relay_conn_close(c, RELAY_CLOSE_BAD_REQUEST, "Invalid message received");
		goto out;
	}
	if (strcmp(type, "connection_init") == 0)
		on_init(c, msg);
	else if (strcmp(type, "subscribe") == 0)
		on_subscribe(c, msg);
	else if (strcmp(type, "complete") == 0)
		on_complete(c, msg);
	else if (strcmp(type, "ping") == 0)
		send_literal(c, "{\"type\":\"pong\"}");
	else if (strcmp(type, "pong") == 0)
		;	/* liveness is any received frame (last_rx_ms) */
	else
		relay_conn_close(c, RELAY_CLOSE_BAD_REQUEST,
		    "Invalid message received: unexpected type");
out:
	json_object_put(msg);
}

/* A data frame (or part of one) arrived. */
static void on_receive(struct relay_conn *c, struct lws *wsi, const char *in, size_t len)
{
	if (c->close_code != 0)
		return;
	if (lws_frame_is_binary(wsi)) {
		relay_conn_close(c, RELAY_CLOSE_BAD_REQUEST,
		    "Invalid message received: binary frame");
		return;
	}
	bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (c->rx_len + len > relay_g.max_msg) {
		free(c->rx);
		c->rx = NULL;
		c->rx_len = 0;
		relay_conn_close(c, RELAY_CLOSE_TOO_BIG, "Message too big");
		return;
	}
	if (c->rx == NULL && final) {	/* the usual case: one piece */
		on_message(c, in, len);
		return;
	}
	char *grown = realloc(c->rx, c->rx_len + len + 1);
	if (grown == NULL)
		abort();
	c->rx = grown;
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!final)
		return;
	char *msg = c->rx;
	size_t n = c->rx_len;
	c->rx = NULL;
	c->rx_len = 0;
	on_message(c, msg, n);
	free(msg);
}

static int on_writeable(struct relay_conn *c, struct lws *wsi)
{
	if (c->close_code != 0) {
		size_t rl = c->close_reason ? strlen(c->close_reason) : 0;
		lws_close_reason(wsi, (enum lws_close_status)c->close_code,
		    (unsigned char *)(uintptr_t)c->close_reason, rl);
		return -1;
	}
	struct relay_out *o = c->out_head;
	if (o == NULL)
		return 0;
	if (o->next == NULL || o->len > WRITE_COALESCE_MAX / 2) {
		/* one message: libwebsockets frames it */
		c->out_head = o->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		c->nout--;
		size_t len = o->len;
		int n = lws_write(wsi, o->buf + LWS_PRE, len, LWS_WRITE_TEXT);
		free(o);
		if (n < 0 || (size_t)n < len)
			return -1;	/* the socket failed: close it */
	} else {
		/* libwebsockets allows one write per writable callback: frame
		 * several queued messages ourselves (RFC 6455 5.2, server to
		 * client: unmasked, FIN, text, no extensions negotiated) and
		 * send them in one raw write.  A partial send is kept and
		 * finished by libwebsockets before the next callback. */
		static unsigned char wbuf[LWS_PRE + WRITE_COALESCE_MAX];
		size_t used = 0;
		while ((o = c->out_head) != NULL &&
		    used + o->len + FRAME_HDR_MAX <= WRITE_COALESCE_MAX) {
			unsigned char *p = wbuf + LWS_PRE + used;
			*p++ = 0x81;
			if (o->len < 126) {
				*p++ = (unsigned char)o->len;
			} else if (o->len < 65536) {
				*p++ = 126;
				*p++ = (unsigned char)(o->len >> 8);
				*p++ = (unsigned char)o->len;
			} else {
				*p++ = 127;
				for (int i = 7; i >= 0; i--)
					*p++ = (unsigned char)((uint64_t)o->len >> (i * 8));
			}
			memcpy(p, o->buf + LWS_PRE, o->len);
			p += o->len;
			used = (size_t)(p - (wbuf + LWS_PRE));
			c->out_head = o->next;
			if (c->out_head == NULL)
				c->out_tail = NULL;
			c->nout--;
			free(o);
		}
		int n = lws_write(wsi, wbuf + LWS_PRE, used, LWS_WRITE_RAW);
		if (n < 0 || (size_t)n < used)
			return -1;
	}
	/* more to send, or a partial send libwebsockets finishes first: ask
	 * for the next callback either way */
	if (c->out_head != NULL || lws_partial_buffered(wsi))
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- life cycle -------------------------------------------------------- */

static bool offered_subprotocol(struct lws *wsi)
{
	char buf[256];
	int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_PROTOCOL);
	if (n <= 0)
		return false;
	/* a comma list: "graphql-transport-ws" or "a, graphql-transport-ws" */
	for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t != NULL;
	    t = strtok_r(NULL, ", ", &save))
		if (strcmp(t, RELAY_SUBPROTOCOL) == 0)
			return true;
	return false;
}

static void on_established(struct relay_conn *c, struct lws *wsi, bool proto_ok)
{
	c->wsi = wsi;
	c->id = ++relay_g.next_conn_id;
	c->opened_ms = c->last_rx_ms = now_ms();
	c->state = RELAY_CONN_NEW;
	c->next = relay_g.conns;
	if (relay_g.conns != NULL)
		relay_g.conns->prev = c;
	relay_g.conns = c;
	c->counted = true;
	relay_g.nconns++;
	struct log_line l;
	log_begin(&l, LOG_INFO, "conn_open");
	log_int(&l, "conn", c->id);
	log_int(&l, "conns", relay_g.nconns);
	log_end(&l);
	if (relay_g.stopping)
		relay_conn_close(c, RELAY_CLOSE_GOING_AWAY, "going away");
	else if (relay_g.nconns > relay_g.max_conns)
		relay_conn_close(c, RELAY_CLOSE_TRY_LATER, "too many connections");
	else if (!proto_ok)
		relay_conn_close(c, RELAY_CLOSE_SUBPROTOCOL, "Subprotocol not acceptable");
}

static void on_closed(struct relay_conn *c)
{
	if (!c->counted)
		return;
	while (c->subs != NULL)
		relay_hub_remove(c->subs);
	out_free_all(c);
	free(c->rx);
	c->rx = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		relay_g.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->counted = false;
	relay_g.nconns--;
	struct log_line l;
	log_begin(&l, LOG_INFO, "conn_close");
	log_conn(&l, c);
	if (c->close_code != 0) {
		log_int(&l, "code", c->close_code);
		log_str(&l, "by", "server");
		log_str(&l, "reason", c->close_reason);
	} else {
		log_int(&l, "code", c->peer_close_code ? c->peer_close_code : 1006);
		log_str(&l, "by", "client");
	}
	log_int(&l, "ms", now_ms() - c->opened_ms);
	log_end(&l);
}

/* Set by FILTER_PROTOCOL_CONNECTION for the ESTABLISHED that follows it on
 * the same wsi (both run in one call of the one event loop thread). */
static struct lws *proto_ok_wsi;

int relay_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct relay_conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[URI_MAX];
		int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
		if (n <= 0 || strcmp(uri, RELAY_PATH) != 0)
			return 1;	/* not our path: refuse the upgrade */
		proto_ok_wsi = offered_subprotocol(wsi) ? wsi : NULL;
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		if (c == NULL)
			return -1;
		on_established(c, wsi, proto_ok_wsi == wsi);
		proto_ok_wsi = NULL;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL || !c->counted)
			return -1;
		c->last_rx_ms = now_ms();
		on_receive(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c != NULL)
			c->last_rx_ms = now_ms();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c == NULL || !c->counted)
			return -1;
		return on_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c != NULL && len >= 2) {
			const unsigned char *b = in;
			c->peer_close_code = (uint16_t)((b[0] << 8) | b[1]);
		}
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c != NULL)
			on_closed(c);
		return 0;
	case LWS_CALLBACK_HTTP:
		/* plain HTTP belongs to the FastCGI pool (nginx routes it) */
		lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
		    "WebSocket (graphql-transport-ws) only");
		return -1;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

void relay_ws_sweep(int64_t now)
{
	int64_t dead_ms = relay_g.ping_interval_ms * 5 / 2;
	for (struct relay_conn *c = relay_g.conns; c != NULL; c = c->next) {
		if (c->close_code != 0)
			continue;
		if (c->state == RELAY_CONN_NEW) {
			if (now - c->opened_ms >= relay_g.init_timeout_ms)
				relay_conn_close(c, RELAY_CLOSE_INIT_TIMEOUT,
				    "Connection initialisation timeout");
			continue;
		}
		if (now >= c->exp_ms) {
			relay_conn_close(c, RELAY_CLOSE_FORBIDDEN, "Forbidden: token expired");
		} else if (now - c->last_rx_ms >= dead_ms) {
			relay_conn_close(c, RELAY_CLOSE_POLICY, "keep-alive timeout");
		} else if (now - c->last_ping_ms >= relay_g.ping_interval_ms) {
			c->last_ping_ms = now;
			send_literal(c, "{\"type\":\"ping\"}");
		}
	}
}

void relay_ws_close_all(void)
{
	for (struct relay_conn *c = relay_g.conns; c != NULL; c = c->next)
		relay_conn_close(c, RELAY_CLOSE_GOING_AWAY, "going away");
}
