import hashlib

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils.timezone import now


class Profile(models.Model):
    """A user's role, which sets how large a run they may start."""

    ROLE_CHOICES = [("teacher", "Teacher"), ("student", "Student")]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE)
    role = models.CharField(max_length=16, choices=ROLE_CHOICES, default="student")

    def __str__(self):
        return f"{self.user} ({self.role})"

    @staticmethod
    def role_of(user):
        if not user.is_authenticated:
            return None
        profile = Profile.objects.filter(user=user).first()
        return profile.role if profile else "student"


class TokenBucket(models.Model):
    """A rate limit that holds across processes because its state lives in the database."""

    value = models.CharField(max_length=80, unique=True)
    tokens = models.FloatField(default=1.0)
    updated = models.DateTimeField(default=now)

    def __str__(self):
        return self.value

    @staticmethod
    def authorize(scope, key, capacity=None, period=None):
        """Take one token from the bucket of (scope, key); False when it is empty.

        The bucket holds 1.0 when full; each request costs 1/capacity and it refills
        completely in `period` seconds.
        """
        if capacity is None:
            capacity, period = settings.RATE_LIMITS[scope]
        # Hash the key so the table never stores e-mail addresses or IPs in the clear.
        digest = hashlib.sha1(f"{scope}:{key}".encode()).hexdigest()
        value = f"{scope}-{digest}"
        frozen_now = now()
        for _attempt in range(2):
            try:
                # Lock the row so concurrent requests in other processes see each
                # other's withdrawals (select_for_update on Postgres; SQLite's IMMEDIATE
                # transactions serialise writers anyway).
                with transaction.atomic():
                    bucket, created = TokenBucket.objects.select_for_update().get_or_create(
                        value=value
                    )
                    if not created:
                        elapsed = (frozen_now - bucket.updated).total_seconds()
                        bucket.tokens = min(1.0, bucket.tokens + max(elapsed, 0) / period)
                    bucket.tokens -= 1.0 / capacity
                    if bucket.tokens < 0:
                        return False
                    bucket.updated = frozen_now
                    bucket.save()
                    return True
            except IntegrityError:
                # Two processes created the same bucket at once; the retry finds the row.
                continue
        return False
