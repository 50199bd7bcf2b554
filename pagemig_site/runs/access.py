"""Who may see or drive a run. The one place views and the consumer ask."""

from dataclasses import dataclass

from .models import Run


@dataclass
class Access:
    run: Run
    can_write: bool
    share_link: object = None


def get_run_for_user(user, code):
    """The run with public id `code` if `user` may see it, or None.

    Owners may drive their runs; anyone may watch public examples; everything else is
    private (unless opened through a share link, see get_run_for_share).
    """
    run = Run.objects.filter(code=code).select_related("owner").first()
    if run is None:
        return None
    if user is not None and user.is_authenticated and run.owner_id == user.id:
        return Access(run, True)
    if run.is_example:
        return Access(run, False)
    return None


def get_run_for_share(token):
    """The run behind an active share link, read-only, or None."""
    from pagemig_site.sharing.models import ShareLink

    if not isinstance(token, str) or not (20 <= len(token) <= 64):
        return None
    link = ShareLink.objects.filter(token=token, revoked=None).select_related("run").first()
    if link is None:
        return None
    return Access(link.run, False, link)
