DELETE FROM code_attempts WHERE purpose = 'signup';
DELETE FROM one_time_secrets WHERE purpose = 'signup';
ALTER TABLE code_attempts DROP CONSTRAINT code_attempts_purpose_check;
ALTER TABLE code_attempts ADD CONSTRAINT code_attempts_purpose_check
    CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'authorize_ip'));
ALTER TABLE one_time_secrets DROP CONSTRAINT one_time_secrets_purpose_check;
ALTER TABLE one_time_secrets ADD CONSTRAINT one_time_secrets_purpose_check
    CHECK (purpose IN ('verify_email', 'change_email', 'reset_password', 'authorize_ip'));
DROP TABLE customers;
DROP TABLE nodes;
DROP TABLE plans;
ALTER TABLE tenants DROP CONSTRAINT tenants_name_length;
ALTER TABLE tenants DROP COLUMN settings;
