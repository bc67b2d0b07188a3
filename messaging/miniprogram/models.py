"""Mini-program sessions: the product's own bearer tokens for customers.

Only SHA-256 digests of the random tokens are stored, so a database leak does not hand out
sessions. WeChat's session_key is kept encrypted (it decrypts wx.getPhoneNumber-style payloads)
and never leaves the server.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scrm.fields import EncryptedTextField

__all__ = ["MiniProgramSession"]


class MiniProgramSession(models.Model):
    # Through the identity: erasing a customer deletes its identities and so every session.
    identity = models.ForeignKey("customers.ChannelIdentity", on_delete=models.CASCADE, related_name="mp_sessions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="mp_sessions")
    account = models.ForeignKey("accounts.ChannelAccount", on_delete=models.CASCADE, related_name="mp_sessions")
    access_token_hash = models.CharField(max_length=64, unique=True)
    access_expires_at = models.DateTimeField()
    refresh_token_hash = models.CharField(max_length=64, unique=True)
    refresh_expires_at = models.DateTimeField()
    # The refresh token this one replaced: if it is presented again, the session was copied.
    previous_refresh_token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    session_key = EncryptedTextField(blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mini-program session")
        verbose_name_plural = _("mini-program sessions")
        indexes = [
            models.Index(fields=["customer"], condition=Q(revoked_at__isnull=True), name="mp_session_live_customer"),
            models.Index(fields=["refresh_expires_at"]),
        ]
