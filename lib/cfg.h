/* cfg: every setting of every program, read from the environment in one
 * place (the table in cfg.c: name, type, default, who requires it, bounds).
 *
 * Programs call cfg_load() once at start-up; a bad or missing value stops the
 * program with one line naming the variable.  Nothing else calls getenv().
 * Secret values are never printed, not even by cfg_dump(). */
#ifndef CFG_H
#define CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Which program is loading: a setting may be required by some only. */
enum cfg_component {
	CFG_CGI = 1 << 0,
	CFG_WORKER = 1 << 1,
	CFG_RELAY = 1 << 2,
	CFG_PROVIDERS = 1 << 3,
	CFG_KAFKA_MOCK = 1 << 4,
	CFG_TOOL = 1 << 5,
};

struct config {
	/* common */
	int log_level;			/* LOG_LEVEL: enum log_level */
	const char *log_file;		/* LOG_FILE: "" means stderr */
	const char *master_db_url;	/* MASTER_DATABASE_URL (secret) */
	const char *redis_url;		/* REDIS_URL */
	const char *kafka_brokers;	/* KAFKA_BROKERS */
	int kafka_session_timeout_ms;	/* KAFKA_SESSION_TIMEOUT_MS */
	int kafka_heartbeat_ms;		/* KAFKA_HEARTBEAT_MS */
	int kafka_fetch_wait_ms;	/* KAFKA_FETCH_WAIT_MS */
	int dep_timeout_ms;		/* DEP_TIMEOUT_MS: health probes */
	/* cgi */
	const char *fcgi_socket;	/* FCGI_SOCKET */
	int fcgi_workers;		/* FCGI_WORKERS */
	int max_body_bytes;		/* MAX_BODY_BYTES */
	const char *cors_origins;	/* CORS_ORIGINS: "a,b" or "*"; "" none */
	const char *admin_key;		/* ADMIN_KEY (secret): "" disables createTenant */
	const char *public_base_url;	/* PUBLIC_BASE_URL: base of download URLs */
	const char *url_signing_key;	/* URL_SIGNING_KEY (secret) */
	int download_url_ttl_sec;	/* DOWNLOAD_URL_TTL_SEC: signed URL lifetime */
	int report_announce_timeout_ms;	/* REPORT_ANNOUNCE_TIMEOUT_MS */
	/* GraphQL engine limits (cgi, relay, tool) */
	int gql_max_doc_bytes;		/* GQL_MAX_DOC_BYTES */
	int gql_max_tokens;		/* GQL_MAX_TOKENS */
	int gql_max_depth;		/* GQL_MAX_DEPTH */
	int gql_max_aliases;		/* GQL_MAX_ALIASES */
	int gql_max_root_fields;	/* GQL_MAX_ROOT_FIELDS */
	bool gql_introspection;		/* GQL_INTROSPECTION */
	/* data, authentication and tenants */
	const char *sql_dir;		/* SQL_DIR: holds master/ and tenant/ */
	const char *data_key;		/* DATA_KEY (secret): 64 hex chars */
	const char *data_key_id;	/* DATA_KEY_ID */
	const char *data_keys_old;	/* DATA_KEYS_OLD (secret): id:hex,... */
	int bcrypt_cost;		/* BCRYPT_COST */
	int password_min_len;		/* PASSWORD_MIN_LEN */
	const char *jwt_secret;		/* JWT_SECRET (secret) */
	int jwt_ttl_sec;		/* JWT_TTL_SEC */
	const char *jwt_issuer;		/* JWT_ISSUER: "" means not set */
	int tenant_max_conns;		/* TENANT_MAX_CONNS */
	int tenant_idle_sec;		/* TENANT_IDLE_SEC */
	int tenant_recheck_sec;		/* TENANT_RECHECK_SEC */
	const char *tenant_db_hosts;	/* TENANT_DB_HOSTS: comma list */
	/* the pooler in front of tenant databases (lib/pgbouncer, lib/poolcap) */
	const char *pool_host;		/* POOL_HOST: "" = connect directly */
	const char *pool_port;		/* POOL_PORT */
	const char *pool_user;		/* POOL_USER */
	const char *pool_password;	/* POOL_PASSWORD (secret) */
	const char *pool_databases_file; /* POOL_DATABASES_FILE */
	const char *pool_state_file;	/* POOL_STATE_FILE */
	int pool_max_server_conns;	/* POOL_MAX_SERVER_CONNS */
	int pool_tenant_servers;	/* POOL_TENANT_SERVERS */
	int pool_wait_ms;		/* POOL_WAIT_MS */
	/* kafka-mock */
	int kafka_mock_port;		/* KAFKA_MOCK_PORT */
	int kafka_mock_partitions;	/* KAFKA_MOCK_PARTITIONS */
	const char *kafka_mock_bootstrap_file; /* KAFKA_MOCK_BOOTSTRAP_FILE */
	/* job queue (lib/queue.h) */
	const char *queue_prefix;	/* QUEUE_PREFIX: Redis key prefix */
	int queue_poll_interval_ms;	/* QUEUE_POLL_INTERVAL_MS: retry delay */
	int queue_max_attempts;		/* QUEUE_MAX_ATTEMPTS */
	int queue_lease_ms;		/* QUEUE_LEASE_MS */
	int queue_keep_completed;	/* QUEUE_KEEP_COMPLETED */
	int queue_keep_failed;		/* QUEUE_KEEP_FAILED */
	int queue_events_max;		/* QUEUE_EVENTS_MAX */
	/* report-worker */
	const char *providers_base_url;	/* PROVIDERS_BASE_URL */
	const char *worker_id;		/* WORKER_ID: "" = <hostname>-<pid> */
	int worker_concurrency;		/* WORKER_CONCURRENCY: jobs held */
	int worker_http_max;		/* WORKER_HTTP_MAX: requests at once */
	int worker_shutdown_ms;		/* WORKER_SHUTDOWN_MS: SIGTERM drain */
	const char *worker_provider_policy;	/* WORKER_PROVIDER_POLICY */
	const char *provider_policy_credit_bureau;	/* PROVIDER_POLICY_CREDIT_BUREAU */
	const char *provider_policy_tax_authority;	/* PROVIDER_POLICY_TAX_AUTHORITY */
	const char *provider_policy_property_registry;	/* PROVIDER_POLICY_PROPERTY_REGISTRY */
	int reconcile_interval_ms;	/* RECONCILE_INTERVAL_MS */
	int reconcile_grace_ms;		/* RECONCILE_GRACE_MS */
	int reconcile_batch;		/* RECONCILE_BATCH */
	/* ws-relay */
	int relay_port;			/* RELAY_PORT (listens on 127.0.0.1) */
	int relay_max_conns;		/* RELAY_MAX_CONNS */
	int relay_max_subs_per_conn;	/* RELAY_MAX_SUBS_PER_CONN */
	int relay_max_msg_bytes;		/* RELAY_MAX_MSG_BYTES */
	int relay_init_timeout_ms;	/* RELAY_INIT_TIMEOUT_MS */
	int relay_ping_interval_ms;	/* RELAY_PING_INTERVAL_MS */
	int relay_send_queue_max;		/* RELAY_SEND_QUEUE_MAX: messages */
	/* mock-providers (knobs: providers/README.md) */
	int providers_port;		/* PROVIDERS_PORT */
	int providers_max_jobs;		/* PROVIDERS_MAX_JOBS */
	int providers_job_ttl_sec;	/* PROVIDERS_JOB_TTL_SEC */
	int providers_max_conns;	/* PROVIDERS_MAX_CONNS */
	int provider_polls;		/* PROVIDER_POLLS */
	int provider_latency_ms;	/* PROVIDER_LATENCY_MS */
	int provider_timeout_ms;	/* PROVIDER_TIMEOUT_MS */
	int provider_retry_after_sec;	/* PROVIDER_RETRY_AFTER_SEC */
	const char *provider_credit_bureau;	/* PROVIDER_CREDIT_BUREAU: spec */
	const char *provider_tax_authority;	/* PROVIDER_TAX_AUTHORITY: spec */
	const char *provider_property_registry;	/* PROVIDER_PROPERTY_REGISTRY */
};

/* Looks a variable up; returns NULL when it is not set. */
typedef const char *(*cfg_lookup_fn)(const char *name, void *ud);

/* Fills c from lookup (NULL: the process environment) for the programs in
 * component.  Returns 0, or -1 with a one-line message naming the variable
 * in errbuf.  Strings point into the environment or into static defaults,
 * so the environment must not change afterwards. */
int cfg_load_from(struct config *c, unsigned component, cfg_lookup_fn lookup,
    void *ud, char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* cfg_load_from() on the environment into the process-wide configuration
 * returned by cfg(); on failure prints the message to stderr and exits 2. */
void cfg_load_or_exit(unsigned component);

/* The process-wide configuration (valid after cfg_load_or_exit()). */
const struct config *cfg(void);

/* Writes the settings table as Markdown rows (name, default, programs,
 * meaning): the source of README.md's configuration table. */
void cfg_doc(FILE *out);

/* Writes NAME=value lines for the component's settings; secrets masked. */
void cfg_dump(FILE *out, const struct config *c, unsigned component);

#endif
