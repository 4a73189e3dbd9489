-- Codes that log in without a password are one-time secrets of their own purpose, asked for
-- through mail requests (the same answer whether or not the address has an account).
ALTER TABLE one_time_secrets DROP CONSTRAINT one_time_secrets_purpose_check;
ALTER TABLE one_time_secrets ADD CONSTRAINT one_time_secrets_purpose_check CHECK (purpose IN
    ('verify_email', 'change_email', 'reset_password', 'authorize_ip', 'signup', 'login_code'));
ALTER TABLE code_attempts DROP CONSTRAINT code_attempts_purpose_check;
ALTER TABLE code_attempts ADD CONSTRAINT code_attempts_purpose_check CHECK (purpose IN
    ('verify_email', 'change_email', 'reset_password', 'authorize_ip', 'signup', 'login_code'));
ALTER TABLE mail_requests DROP CONSTRAINT mail_requests_purpose_check;
ALTER TABLE mail_requests ADD CONSTRAINT mail_requests_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'login_code'));
