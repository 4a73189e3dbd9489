-- Blobs (avatars first): bytes under a key the service makes, kept in the database so every
-- node sees them without a shared volume.
CREATE TABLE blobs (
    -- "C" collation: an account's prefix (`avatars/<id>/%`) is found through the index.
    key          text COLLATE "C" PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    content_type text NOT NULL,
    bytes        bytea NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- Images arrive compressed: store them out of line without trying to compress them again.
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- An account's current avatar: the version (a digest of its bytes, `-`, a random part of each
-- write) names the blob `avatars/<account id>/<version>`.
ALTER TABLE accounts ADD COLUMN avatar_version text
    CHECK (avatar_version ~ '^[0-9a-f]{32}-[0-9a-f]{16}$');

-- However an account goes (erasure, the unverified-account sweep, a tenant's removal), its
-- avatars go with it, in the same transaction.
CREATE FUNCTION accounts_drop_avatars() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM blobs WHERE key LIKE 'avatars/' || OLD.id::text || '/%';
    RETURN OLD;
END;
$$;
CREATE TRIGGER accounts_drop_avatars AFTER DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_drop_avatars();
