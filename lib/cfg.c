#include "cfg.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum cfg_type { T_STR, T_SECRET, T_INT, T_BOOL, T_LEVEL };

enum { ALL = CFG_CGI | CFG_WORKER | CFG_RELAY | CFG_PROVIDERS | CFG_KAFKA_MOCK | CFG_TOOL };

struct cfg_def {
	const char *name;
	enum cfg_type type;
	size_t off;
	const char *def;	/* NULL: no default */
	unsigned used_by;	/* components that read it */
	unsigned required_by;	/* components that fail without it */
	long min, max;		/* T_INT bounds; T_STR/T_SECRET length bounds */
	const char *help;
};

#define F(field) offsetof(struct config, field)

/* The one table of settings.  Keep README.md's configuration table in step. */
static const struct cfg_def defs[] = {
	{ "LOG_LEVEL", T_LEVEL, F(log_level), "info", ALL, 0, 0, 0,
	  "debug, info, warn or error" },
	{ "LOG_FILE", T_STR, F(log_file), "", ALL, 0, 0, 4095,
	  "append log lines to this file instead of stderr" },
	{ "MASTER_DATABASE_URL", T_SECRET, F(master_db_url), NULL,
	  CFG_CGI | CFG_WORKER | CFG_TOOL, CFG_CGI | CFG_WORKER | CFG_TOOL, 1, 4095,
	  "libpq connection string of the master (tenant registry) database" },
	{ "REDIS_URL", T_STR, F(redis_url), "redis://127.0.0.1:6379/0",
	  CFG_CGI | CFG_WORKER, 0, 1, 1023, "redis://host:port/db of the job queue" },
	{ "KAFKA_BROKERS", T_STR, F(kafka_brokers), "127.0.0.1:9092",
	  CFG_CGI | CFG_WORKER | CFG_RELAY, 0, 1, 1023,
	  "Kafka bootstrap list host:port[,host:port]" },
	{ "KAFKA_SESSION_TIMEOUT_MS", T_INT, F(kafka_session_timeout_ms), "6000",
	  CFG_WORKER | CFG_RELAY, 0, 1000, 300000,
	  "consumer group session timeout (the relay's group; the worker's "
	  "intake joins none); identical on every client" },
	{ "KAFKA_HEARTBEAT_MS", T_INT, F(kafka_heartbeat_ms), "1000",
	  CFG_WORKER | CFG_RELAY, 0, 100, 60000,
	  "consumer group heartbeat interval (the relay's group)" },
	{ "KAFKA_FETCH_WAIT_MS", T_INT, F(kafka_fetch_wait_ms), "10",
	  CFG_WORKER | CFG_RELAY, 0, 1, 5000, "consumer fetch.wait.max.ms (latency)" },
	{ "DEP_TIMEOUT_MS", T_INT, F(dep_timeout_ms), "1000",
	  CFG_CGI | CFG_WORKER | CFG_RELAY, 0, 50, 60000,
	  "timeout of one dependency probe or connection attempt" },
	{ "FCGI_SOCKET", T_STR, F(fcgi_socket), "var/run/fcgi.sock", CFG_CGI, 0,
	  1, 107, "unix socket the FastCGI pool listens on" },
	{ "FCGI_WORKERS", T_INT, F(fcgi_workers), "4", CFG_CGI, 0, 1, 256,
	  "number of FastCGI worker processes" },
	{ "MAX_BODY_BYTES", T_INT, F(max_body_bytes), "1048576", CFG_CGI, 0,
	  1024, 64 * 1024 * 1024, "largest accepted request body" },
	{ "CORS_ORIGINS", T_STR, F(cors_origins), "", CFG_CGI, 0, 0, 4095,
	  "origins allowed to call the API from a browser: a,b or *" },
	{ "ADMIN_KEY", T_SECRET, F(admin_key), "", CFG_CGI | CFG_TOOL, 0, 0, 1024,
	  "key of the X-Admin-Key header createTenant needs; empty disables it" },
	{ "PUBLIC_BASE_URL", T_STR, F(public_base_url), "http://localhost:3000",
	  CFG_CGI | CFG_WORKER | CFG_RELAY, 0, 8, 1023,
	  "scheme://host[:port] clients reach the service at (download URLs)" },
	{ "URL_SIGNING_KEY", T_SECRET, F(url_signing_key), NULL,
	  CFG_CGI | CFG_WORKER | CFG_RELAY, CFG_CGI | CFG_WORKER | CFG_RELAY, 32, 1024,
	  "HMAC-SHA256 key of signed download URLs (at least 32 bytes)" },
	{ "DOWNLOAD_URL_TTL_SEC", T_INT, F(download_url_ttl_sec), "3600",
	  CFG_CGI | CFG_WORKER | CFG_RELAY, 0, 10, 7 * 86400,
	  "lifetime of a signed download URL (fileURL)" },
	{ "REPORT_ANNOUNCE_TIMEOUT_MS", T_INT, F(report_announce_timeout_ms), "2000",
	  CFG_CGI, 0, 10, 60000,
	  "createReport waits this long for Kafka to confirm report.create" },
	{ "SQL_DIR", T_STR, F(sql_dir), "sql", CFG_CGI | CFG_WORKER | CFG_TOOL, 0,
	  1, 4095, "directory holding the migrations master/NNN_*.sql and "
	  "tenant/NNN_*.sql, read at run time (relative to the working directory)" },
	{ "DATA_KEY", T_SECRET, F(data_key), NULL, CFG_CGI | CFG_WORKER | CFG_TOOL,
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 64, 64,
	  "64 hex chars: AES-256-GCM key sealing tenant database passwords" },
	{ "DATA_KEY_ID", T_STR, F(data_key_id), "k1", CFG_CGI | CFG_WORKER | CFG_TOOL,
	  0, 1, 32, "id of DATA_KEY, stored with every sealed value ([A-Za-z0-9_-])" },
	{ "DATA_KEYS_OLD", T_SECRET, F(data_keys_old), NULL,
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 0, 4095,
	  "retired keys still accepted for decryption: id:hex[,id:hex]" },
	{ "BCRYPT_COST", T_INT, F(bcrypt_cost), "10", CFG_CGI | CFG_TOOL, 0, 4, 15,
	  "bcrypt cost of new password hashes" },
	{ "PASSWORD_MIN_LEN", T_INT, F(password_min_len), "4", CFG_CGI | CFG_TOOL, 0,
	  1, 72, "shortest accepted password in bytes (the longest is 72)" },
	{ "JWT_SECRET", T_SECRET, F(jwt_secret), NULL, CFG_CGI | CFG_RELAY,
	  CFG_CGI | CFG_RELAY, 32, 1024, "HS256 key of access tokens, 32+ bytes" },
	{ "JWT_TTL_SEC", T_INT, F(jwt_ttl_sec), "3600", CFG_CGI, 0, 60, 30 * 86400,
	  "lifetime of an access token" },
	{ "JWT_ISSUER", T_STR, F(jwt_issuer), "", CFG_CGI | CFG_RELAY, 0, 0, 255,
	  "iss claim set and required in tokens; empty: not used" },
	{ "TENANT_MAX_CONNS", T_INT, F(tenant_max_conns), "0",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 0, 16384,
	  "most tenant connections one process keeps open; 0: 1024 through "
	  "PgBouncer (client connections, cheap), 16 without (each a server "
	  "connection)" },
	{ "TENANT_IDLE_SEC", T_INT, F(tenant_idle_sec), "300",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 1, 86400,
	  "an idle tenant connection is closed after this long" },
	{ "TENANT_RECHECK_SEC", T_INT, F(tenant_recheck_sec), "30",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 0, 3600,
	  "how often a cached tenant's registry row is checked for changes" },
	{ "TENANT_DB_HOSTS", T_STR, F(tenant_db_hosts), "127.0.0.1,localhost,db",
	  CFG_CGI | CFG_TOOL, 0, 1, 1023,
	  "comma list of database hosts createTenant may use" },
	{ "POOL_HOST", T_STR, F(pool_host), "", CFG_CGI | CFG_WORKER | CFG_TOOL, 0,
	  0, 255, "PgBouncer in front of the tenant databases: socket directory "
	  "or host; empty: connect to each tenant database directly" },
	{ "POOL_PORT", T_STR, F(pool_port), "6432", CFG_CGI | CFG_WORKER | CFG_TOOL,
	  0, 1, 5, "PgBouncer's port" },
	{ "POOL_USER", T_STR, F(pool_user), "reportsvc",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 1, 63,
	  "the service's own PgBouncer user (in its auth_file and admin_users)" },
	{ "POOL_PASSWORD", T_SECRET, F(pool_password), "",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 0, 255, "POOL_USER's password" },
	{ "POOL_DATABASES_FILE", T_STR, F(pool_databases_file),
	  "var/run/pgbouncer-databases.ini", CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 1,
	  4095, "[databases] file PgBouncer %includes, rewritten (mode 600) from "
	  "the tenant registry" },
	{ "POOL_STATE_FILE", T_STR, F(pool_state_file), "var/run/pool.state",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 1, 4095,
	  "file every process of the host maps to share the connection cap" },
	{ "POOL_MAX_SERVER_CONNS", T_INT, F(pool_max_server_conns), "1500",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 1, 100000,
	  "most PostgreSQL server connections to tenant databases, all processes "
	  "together (keep it under max_connections)" },
	{ "POOL_TENANT_SERVERS", T_INT, F(pool_tenant_servers), "1",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 1, 1000,
	  "most server connections of one tenant (PgBouncer pool_size)" },
	{ "POOL_WAIT_MS", T_INT, F(pool_wait_ms), "3000",
	  CFG_CGI | CFG_WORKER | CFG_TOOL, 0, 0, 600000,
	  "longest wait for room under the cap before SERVICE_UNAVAILABLE" },
	{ "GQL_MAX_DOC_BYTES", T_INT, F(gql_max_doc_bytes), "65536",
	  CFG_CGI | CFG_RELAY | CFG_TOOL, 0, 256, 16 * 1024 * 1024,
	  "largest GraphQL document (query text) accepted" },
	{ "GQL_MAX_TOKENS", T_INT, F(gql_max_tokens), "10000",
	  CFG_CGI | CFG_RELAY | CFG_TOOL, 0, 100, 1000000,
	  "most lexical tokens in one GraphQL document" },
	{ "GQL_MAX_DEPTH", T_INT, F(gql_max_depth), "15",
	  CFG_CGI | CFG_RELAY | CFG_TOOL, 0, 2, 64,
	  "deepest field nesting of an operation, fragments expanded" },
	{ "GQL_MAX_ALIASES", T_INT, F(gql_max_aliases), "30",
	  CFG_CGI | CFG_RELAY | CFG_TOOL, 0, 0, 100000,
	  "most aliases in one operation, fragments expanded" },
	{ "GQL_MAX_ROOT_FIELDS", T_INT, F(gql_max_root_fields), "20",
	  CFG_CGI | CFG_RELAY | CFG_TOOL, 0, 1, 100000,
	  "most root fields in one operation" },
	{ "GQL_INTROSPECTION", T_BOOL, F(gql_introspection), "true",
	  CFG_CGI | CFG_RELAY | CFG_TOOL, 0, 0, 0,
	  "allow __schema and __type queries" },
	{ "KAFKA_MOCK_PORT", T_INT, F(kafka_mock_port), "9092", CFG_KAFKA_MOCK, 0,
	  1, 65535, "loopback port of the Kafka stand-in" },
	{ "KAFKA_MOCK_PARTITIONS", T_INT, F(kafka_mock_partitions), "3",
	  CFG_KAFKA_MOCK, 0, 1, 64, "partitions per topic in the stand-in" },
	{ "KAFKA_MOCK_BOOTSTRAP_FILE", T_STR, F(kafka_mock_bootstrap_file), "",
	  CFG_KAFKA_MOCK, 0, 0, 4095,
	  "file the stand-in writes its bootstrap address to" },
	{ "QUEUE_PREFIX", T_STR, F(queue_prefix), "rq", CFG_WORKER | CFG_TOOL, 0,
	  1, 64, "Redis key prefix of the job queue (<p>:job:<id>, <p>:due, ...)" },
	{ "QUEUE_POLL_INTERVAL_MS", T_INT, F(queue_poll_interval_ms), "10000",
	  CFG_WORKER, 0, 10, 3600000,
	  "period of a report job's attempts (the next starts this long after "
	  "the last one started, at least half of it after that one ended); "
	  "longest idle sleep" },
	{ "QUEUE_MAX_ATTEMPTS", T_INT, F(queue_max_attempts), "30",
	  CFG_WORKER, 0, 1, 100000, "attempts of a report job before it fails" },
	{ "QUEUE_LEASE_MS", T_INT, F(queue_lease_ms), "30000", CFG_WORKER, 0,
	  100, 3600000,
	  "a claimed job not extended or finished within this is taken over" },
	{ "QUEUE_KEEP_COMPLETED", T_INT, F(queue_keep_completed), "1000",
	  CFG_WORKER | CFG_TOOL, 0, 0, 10000000, "completed jobs kept in Redis" },
	{ "QUEUE_KEEP_FAILED", T_INT, F(queue_keep_failed), "5000",
	  CFG_WORKER | CFG_TOOL, 0, 0, 10000000, "failed jobs kept in Redis" },
	{ "QUEUE_EVENTS_MAX", T_INT, F(queue_events_max), "10000",
	  CFG_WORKER | CFG_TOOL, 0, 1, 10000000,
	  "approximate length cap of the <p>:events stream" },
	/* report-worker (worker/README.md) */
	{ "PROVIDERS_BASE_URL", T_STR, F(providers_base_url), "http://127.0.0.1:4000",
	  CFG_WORKER, 0, 8, 1023, "scheme://host[:port] of the three providers' API" },
	{ "WORKER_ID", T_STR, F(worker_id), "", CFG_WORKER, 0, 0, 40,
	  "lease owner name in the job queue; empty: <hostname>-<pid>" },
	{ "WORKER_CONCURRENCY", T_INT, F(worker_concurrency), "200", CFG_WORKER, 0,
	  1, 100000, "most report jobs one worker holds at once" },
	{ "WORKER_HTTP_MAX", T_INT, F(worker_http_max), "256", CFG_WORKER, 0,
	  1, 10000, "most provider HTTP requests one worker runs at once (all "
	  "providers; each also under its policy's max_conns)" },
	{ "WORKER_SHUTDOWN_MS", T_INT, F(worker_shutdown_ms), "10000", CFG_WORKER, 0,
	  0, 600000, "on SIGTERM, how long in-flight provider calls may finish" },
	{ "WORKER_PROVIDER_POLICY", T_STR, F(worker_provider_policy), "", CFG_WORKER,
	  0, 0, 255, "call policy of every provider: timeout_ms=,retries=,"
	  "backoff=fixed|exp,base_ms=,cap_ms=,jitter=,retry_after_max_ms=,"
	  "max_conns= (per worker, default 128),pressure_max_ms=" },
	{ "PROVIDER_POLICY_CREDIT_BUREAU", T_STR, F(provider_policy_credit_bureau), "",
	  CFG_WORKER, 0, 0, 255, "credit-bureau's policy, on top of WORKER_PROVIDER_POLICY" },
	{ "PROVIDER_POLICY_TAX_AUTHORITY", T_STR, F(provider_policy_tax_authority), "",
	  CFG_WORKER, 0, 0, 255, "tax-authority's policy, on top of WORKER_PROVIDER_POLICY" },
	{ "PROVIDER_POLICY_PROPERTY_REGISTRY", T_STR, F(provider_policy_property_registry),
	  "", CFG_WORKER, 0, 0, 255,
	  "property-registry's policy, on top of WORKER_PROVIDER_POLICY" },
	{ "RECONCILE_INTERVAL_MS", T_INT, F(reconcile_interval_ms), "30000", CFG_WORKER,
	  0, 100, 86400000, "how often one worker looks for lost or unannounced reports" },
	{ "RECONCILE_GRACE_MS", T_INT, F(reconcile_grace_ms), "5000", CFG_WORKER, 0,
	  0, 86400000, "a report younger than this is left alone by the reconciler" },
	{ "RECONCILE_BATCH", T_INT, F(reconcile_batch), "500", CFG_WORKER, 0,
	  1, 100000, "most reports per tenant one reconciler run looks at" },
	{ "RELAY_PORT", T_INT, F(relay_port), "3001", CFG_RELAY, 0, 1, 65535,
	  "loopback port of the WebSocket relay (nginx proxies /graphql upgrades)" },
	{ "RELAY_MAX_CONNS", T_INT, F(relay_max_conns), "20000", CFG_RELAY, 0,
	  1, 1000000, "most WebSocket connections; more are closed with 1013" },
	{ "RELAY_MAX_SUBS_PER_CONN", T_INT, F(relay_max_subs_per_conn), "100",
	  CFG_RELAY, 0, 1, 100000, "most active subscriptions of one connection" },
	{ "RELAY_MAX_MSG_BYTES", T_INT, F(relay_max_msg_bytes), "65536",
	  CFG_RELAY, 0, 256, 16 * 1024 * 1024,
	  "largest client message; a larger one closes the socket with 1009" },
	{ "RELAY_INIT_TIMEOUT_MS", T_INT, F(relay_init_timeout_ms), "10000",
	  CFG_RELAY, 0, 100, 600000,
	  "connection_init must come within this time, else close 4408" },
	{ "RELAY_PING_INTERVAL_MS", T_INT, F(relay_ping_interval_ms), "15000",
	  CFG_RELAY, 0, 100, 3600000,
	  "server keep-alive ping period; silent for 2.5 periods: closed" },
	{ "RELAY_SEND_QUEUE_MAX", T_INT, F(relay_send_queue_max), "256",
	  CFG_RELAY, 0, 1, 1000000,
	  "messages queued for one client; overflow closes it with 1008" },
	{ "PROVIDERS_PORT", T_INT, F(providers_port), "4000", CFG_PROVIDERS, 0,
	  1, 65535, "loopback port of the mock providers" },
	{ "PROVIDERS_MAX_JOBS", T_INT, F(providers_max_jobs), "100000",
	  CFG_PROVIDERS, 0, 16, 10000000,
	  "most jobs the mock providers keep; the least recently used goes" },
	{ "PROVIDERS_JOB_TTL_SEC", T_INT, F(providers_job_ttl_sec), "3600",
	  CFG_PROVIDERS, 0, 1, 7 * 86400,
	  "a mock provider job not polled for this long is forgotten (404)" },
	{ "PROVIDERS_MAX_CONNS", T_INT, F(providers_max_conns), "1024",
	  CFG_PROVIDERS, 0, 4, 8192,
	  "connections the mock providers serve (one thread each); past it they "
	  "answer 503 with Retry-After" },
	{ "PROVIDER_POLLS", T_INT, F(provider_polls), "2", CFG_PROVIDERS, 0,
	  0, 1000000, "default polls answered processing before a job is ready" },
	{ "PROVIDER_LATENCY_MS", T_INT, F(provider_latency_ms), "50",
	  CFG_PROVIDERS, 0, 0, 300000, "default delay before every provider answer" },
	{ "PROVIDER_TIMEOUT_MS", T_INT, F(provider_timeout_ms), "30000",
	  CFG_PROVIDERS, 0, 0, 300000,
	  "default hang of a request picked by timeout_rate (then 504)" },
	{ "PROVIDER_RETRY_AFTER_SEC", T_INT, F(provider_retry_after_sec), "1",
	  CFG_PROVIDERS, 0, 0, 86400, "default Retry-After of 202, processing and 429" },
	{ "PROVIDER_CREDIT_BUREAU", T_STR, F(provider_credit_bureau), "",
	  CFG_PROVIDERS, 0, 0, 1023,
	  "knobs of credit-bureau: key=value,... (providers/README.md)" },
	{ "PROVIDER_TAX_AUTHORITY", T_STR, F(provider_tax_authority), "",
	  CFG_PROVIDERS, 0, 0, 1023, "knobs of tax-authority: key=value,..." },
	{ "PROVIDER_PROPERTY_REGISTRY", T_STR, F(provider_property_registry), "",
	  CFG_PROVIDERS, 0, 0, 1023, "knobs of property-registry: key=value,..." },
};

static const char *env_lookup(const char *name, void *ud)
{
	(void)ud;
	return getenv(name);
}

static int fail(char *errbuf, size_t errlen, const char *name, const char *why)
{
	/* A truncated message still names the variable, which comes first. */
	(void)snprintf(errbuf, errlen, "configuration: %s %s", name, why);
	return -1;
}

static int parse_one(struct config *c, const struct cfg_def *d, const char *v,
    char *errbuf, size_t errlen)
{
	void *field = (char *)c + d->off;
	switch (d->type) {
	case T_STR:
	case T_SECRET: {
		size_t n = strlen(v);
		if ((long)n < d->min)
			return fail(errbuf, errlen, d->name, d->min > 1 ?
			    "is too short" : "must not be empty");
		if ((long)n > d->max)
			return fail(errbuf, errlen, d->name, "is too long");
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x20)
				return fail(errbuf, errlen, d->name,
				    "contains a control character");
		*(const char **)field = v;
		return 0;
	}
	case T_INT: {
		char *end;
		errno = 0;
		long x = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0')
			return fail(errbuf, errlen, d->name, "must be an integer");
		if (x < d->min || x > d->max) {
			char why[96];
			int n = snprintf(why, sizeof why, "must be between %ld and %ld",
			    d->min, d->max);
			return fail(errbuf, errlen, d->name,
			    n > 0 && (size_t)n < sizeof why ? why : "is out of range");
		}
		*(int *)field = (int)x;
		return 0;
	}
	case T_BOOL:
		if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
			*(bool *)field = true;
		else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
		    strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
			*(bool *)field = false;
		else
			return fail(errbuf, errlen, d->name, "must be true or false");
		return 0;
	case T_LEVEL: {
		int lv = log_level_parse(v);
		if (lv < 0)
			return fail(errbuf, errlen, d->name,
			    "must be debug, info, warn or error");
		*(int *)field = lv;
		return 0;
	}
	}
	return fail(errbuf, errlen, d->name, "has an unknown type");
}

int cfg_load_from(struct config *c, unsigned component, cfg_lookup_fn lookup,
    void *ud, char *errbuf, size_t errlen)
{
	if (lookup == NULL)
		lookup = env_lookup;
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
		const struct cfg_def *d = &defs[i];
		const char *v = (d->used_by & component) ? lookup(d->name, ud) : NULL;
		if (v == NULL || (v[0] == '\0' && d->def != NULL && d->def[0] != '\0'))
			v = d->def;
		if (v == NULL) {
			if (d->required_by & component)
				return fail(errbuf, errlen, d->name, "is required but not set");
			if (d->type == T_STR || d->type == T_SECRET)
				*(const char **)((char *)c + d->off) = "";
			continue;
		}
		if (parse_one(c, d, v, errbuf, errlen) != 0)
			return -1;
	}
	return 0;
}

static struct config global_cfg;

void cfg_load_or_exit(unsigned component)
{
	char err[512];
	if (cfg_load_from(&global_cfg, component, NULL, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
}

const struct config *cfg(void)
{
	return &global_cfg;
}

void cfg_dump(FILE *out, const struct config *c, unsigned component)
{
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
		const struct cfg_def *d = &defs[i];
		if (!(d->used_by & component))
			continue;
		const void *field = (const char *)c + d->off;
		switch (d->type) {
		case T_STR:
			fprintf(out, "%s=%s\n", d->name, *(const char *const *)field);
			break;
		case T_SECRET:
			fprintf(out, "%s=%s\n", d->name,
			    **(const char *const *)field ? "(set, hidden)" : "");
			break;
		case T_INT:
		case T_LEVEL:
			fprintf(out, "%s=%d\n", d->name, *(const int *)field);
			break;
		case T_BOOL:
			fprintf(out, "%s=%s\n", d->name, *(const bool *)field ? "true" : "false");
			break;
		}
	}
}

void cfg_doc(FILE *out)
{
	static const struct { unsigned bit; const char *name; } progs[] = {
		{ CFG_CGI, "cgi" }, { CFG_WORKER, "worker" }, { CFG_RELAY, "relay" },
		{ CFG_PROVIDERS, "providers" }, { CFG_KAFKA_MOCK, "kafka-mock" },
		{ CFG_TOOL, "admin" },
	};
	fprintf(out, "| variable | default | used by | meaning |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
		const struct cfg_def *d = &defs[i];
		fprintf(out, "| `%s` | ", d->name);
		if (d->required_by != 0)
			fprintf(out, "required");
		else if (d->def == NULL || d->def[0] == '\0')
			fprintf(out, "(empty)");
		else
			fprintf(out, "`%s`", d->def);
		fprintf(out, " | ");
		bool first = true;
		for (size_t k = 0; k < sizeof progs / sizeof progs[0]; k++) {
			if (!(d->used_by & progs[k].bit))
				continue;
			fprintf(out, "%s%s", first ? "" : ", ", progs[k].name);
			first = false;
		}
		fprintf(out, " | ");
		for (const char *h = d->help; *h != '\0'; h++)
			fprintf(out, *h == '|' ? "\\|" : "%c", *h);
		fprintf(out, "%s |\n", d->type == T_SECRET ? " (secret)" : "");
	}
}
