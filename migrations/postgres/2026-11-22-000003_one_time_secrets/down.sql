DROP TABLE mail_requests;
DROP TABLE one_time_secrets;
