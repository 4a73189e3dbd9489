DROP TABLE code_attempts;
