"""Handlers that campaigns registers with messaging's inbound loop (see CampaignsConfig.ready)."""
