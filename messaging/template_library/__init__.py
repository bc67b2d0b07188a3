"""An account's message-template library, kept in sync with WeChat (the campaign wizard's picker)."""
