DROP TRIGGER accounts_drop_avatars ON accounts;
DROP FUNCTION accounts_drop_avatars();
ALTER TABLE accounts DROP COLUMN avatar_version;
DROP TABLE blobs;
