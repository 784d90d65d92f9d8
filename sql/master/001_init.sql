-- Master database: the tenant registry and the global user directory.
-- Applied by lib/migrate.c inside a transaction; no BEGIN/COMMIT here.

CREATE TABLE tenants (
	tenant_id text PRIMARY KEY
		CHECK (tenant_id ~ '^[A-Za-z0-9_-]{1,63}$'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	db_host text NOT NULL CHECK (length(db_host) BETWEEN 1 AND 255),
	db_port int NOT NULL CHECK (db_port BETWEEN 1 AND 65535),
	db_user text NOT NULL CHECK (length(db_user) BETWEEN 1 AND 63),
	db_name text NOT NULL CHECK (db_name ~ '^[A-Za-z0-9_-]{1,63}$'),
	-- "v1:<keyid>:<base64(nonce || ciphertext || tag)>", AES-256-GCM
	db_password_enc text NOT NULL CHECK (db_password_enc LIKE 'v1:%:%'),
	key_id text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- The connection caches compare updated_at to notice changed settings, so
-- every UPDATE moves it, whoever runs it.
CREATE FUNCTION tenants_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := clock_timestamp();
	RETURN NEW;
END
$$;

CREATE TRIGGER tenants_touch BEFORE UPDATE ON tenants
	FOR EACH ROW EXECUTE FUNCTION tenants_touch();

-- Usernames are unique across tenants; login finds the tenant here.
CREATE TABLE user_directory (
	username text PRIMARY KEY,
	tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX user_directory_tenant_idx ON user_directory (tenant_id);
