import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.timezone import now

from pagemig_site.runs.models import Run


def new_token():
    return secrets.token_urlsafe(32)


class ShareLink(models.Model):
    """A read-only, revocable link to a run's replay, carrying a view state.

    It pins what makes the run reproducible (engine version, scenario, seed, profile) at
    the time it was shared, so "run again" rebuilds exactly what the viewer saw.
    """

    token = models.CharField(max_length=64, unique=True, default=new_token)
    run = models.ForeignKey(Run, models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE)
    created = models.DateTimeField(default=now)
    revoked = models.DateTimeField(null=True, blank=True)
    # Position, layout, zoom and compared runs, as the dashboard chooses to describe them.
    view_state = models.JSONField(default=dict, blank=True)
    engine_version = models.CharField(max_length=32)
    scenario = models.JSONField()
    seed = models.BigIntegerField()
    profile = models.CharField(max_length=16)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        # Never the token: share URLs must not end up in logs.
        return f"share link {self.pk} for run {self.run.code}"

    def get_absolute_url(self):
        return reverse("sharing:view", args=[self.token])

    @property
    def is_active(self):
        return self.revoked is None

    def revoke(self):
        ShareLink.objects.filter(pk=self.pk, revoked=None).update(revoked=now())
        self.revoked = self.revoked or now()

    def to_dict(self):
        return {
            "token": self.token,
            "url": self.get_absolute_url(),
            "run": str(self.run.code),
            "created": self.created.isoformat(),
            "revoked": self.revoked.isoformat() if self.revoked else None,
            "view_state": self.view_state,
            "engine_version": self.engine_version,
            "scenario": self.scenario,
            "seed": self.seed,
            "profile": self.profile,
        }
