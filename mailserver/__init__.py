"""The mail servers of minternet: SMTP, submission, IMAP and POP3 on a Maildir store."""
