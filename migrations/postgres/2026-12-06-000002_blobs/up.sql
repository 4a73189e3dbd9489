-- Blobs (avatars first): bytes under a key the service makes, kept in the database so every
-- node sees them without a shared volume.
CREATE TABLE blobs (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    content_type text NOT NULL,
    bytes        bytea NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- Images arrive compressed: store them out of line without trying to compress them again.
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
