-- Tenant database (one per tenant): users, reports and their files.
-- Applied by lib/migrate.c inside a transaction; no BEGIN/COMMIT here.

CREATE TABLE users (
	id bigserial PRIMARY KEY,
	username text NOT NULL UNIQUE,
	password_hash text NOT NULL,		-- bcrypt "$2b$..."
	tax_id text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reports (
	id serial PRIMARY KEY,
	owner_id bigint NOT NULL REFERENCES users (id),
	status text NOT NULL DEFAULT 'PENDING'
		CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED')),
	progress int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
	attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	error text,
	announced bool NOT NULL DEFAULT false,		-- report.create sent
	ready_announced bool NOT NULL DEFAULT false,	-- report.ready sent
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	completed_at timestamptz
);

-- reports(first, after) of one owner, newest first.
CREATE INDEX reports_owner_idx ON reports (owner_id, id DESC);
-- The reconciler: reports not finished yet, or never announced.
CREATE INDEX reports_open_idx ON reports (updated_at)
	WHERE status IN ('PENDING', 'IN_PROGRESS');
CREATE INDEX reports_unannounced_idx ON reports (id)
	WHERE NOT announced
	   OR (status IN ('COMPLETED', 'FAILED') AND NOT ready_announced);

CREATE TABLE report_providers (
	report_id int NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
	provider text NOT NULL,
	status text NOT NULL DEFAULT 'PENDING',
	attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	last_error text,
	data jsonb,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (report_id, provider)
);

CREATE TABLE report_files (
	report_id int NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
	format text NOT NULL CHECK (format IN ('csv', 'json')),
	content bytea NOT NULL,
	sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (report_id, format)
);
