"""What CCAI Platform connections share across every web process and worker, in PostgreSQL.

- `CcaiPace`: the connection's request pace. The platform allows about 10 requests per second
  per customer, shared with the customer's other integrations; ours is the connection's share
  (`requests_per_second`, default 5), held here rather than in any process's memory (`pace.py`).
- `CcaiManualDial`: a dial the platform answered 202 ("manual intervention inside of the
  widget") or did not answer in time: no call id yet, so the call is recognised by its agent and
  number when the platform reports it (`manual.py`).
"""

from __future__ import annotations

from django.db import models

from integrations.models import ProviderConnection


class CcaiPace(models.Model):
    connection = models.OneToOneField(
        ProviderConnection, on_delete=models.CASCADE, related_name="ccai_pace"
    )
    # The earliest moment the connection's next request may leave: each request takes the
    # slot and moves it on by 1 / requests_per_second; a 429 moves it to its Retry-After.
    next_free_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"CCAI pace of connection {self.connection_id}: next at {self.next_free_at}"


class CcaiManualDial(models.Model):
    connection = models.ForeignKey(ProviderConnection, on_delete=models.CASCADE)
    outreach_call_id = models.CharField(max_length=64)
    agent_email = models.CharField(max_length=254)
    agent_id = models.CharField(max_length=100, blank=True)  # the platform's, when mapped
    end_user_number = models.CharField(max_length=32)  # E.164
    created = models.DateTimeField(auto_now_add=True)
    wait_until = models.DateTimeField()
    # The platform's call once recognised: a second call of the same agent is not this one.
    provider_call_id = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "outreach_call_id"], name="one_ccai_manual_dial_per_call"
            )
        ]

    def __str__(self) -> str:
        return f"CCAI dial {self.outreach_call_id} waiting for {self.agent_email}"
