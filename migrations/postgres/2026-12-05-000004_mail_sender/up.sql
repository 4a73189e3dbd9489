-- A tenant's own sender (`mail_from` in its settings) travels with each of its mails, so the
-- worker that delivers it sends it as the brand it was rendered for. NULL: the transport's
-- configured sender.
ALTER TABLE mail_outbox ADD COLUMN sender text;
