from django.conf import settings
from django.contrib import auth
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .forms import SignupForm
from .models import Profile, TokenBucket

LOCAL_USERNAME = "local"
LOOPBACK = {"127.0.0.1", "::1"}


def _client_ip(request):
    return request.META.get("REMOTE_ADDR", "")


def _rate_limited(request, template, form):
    form.add_error(None, "Too many attempts. Please wait a minute and try again.")
    return render(request, template, {"form": form}, status=429)


def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if not TokenBucket.authorize("signup", _client_ip(request)):
            return _rate_limited(request, "accounts/signup.html", form)
        if form.is_valid():
            user = form.save()
            Profile.objects.create(user=user, role=form.cleaned_data["role"])
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("runs:index")
    return render(request, "accounts/signup.html", {"form": form})


def login(request):
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST":
        # Limit per address and per account, so neither one address nor a botnet
        # aimed at one account gets unlimited guesses.
        username = request.POST.get("username", "")[:150]
        if not (
            TokenBucket.authorize("login", _client_ip(request))
            and TokenBucket.authorize("login", "user:" + username.lower())
        ):
            return _rate_limited(request, "accounts/login.html", form)
        if form.is_valid():
            auth.login(request, form.get_user())
            return redirect("runs:index")
    return render(request, "accounts/login.html", {"form": form})


@require_POST
def logout(request):
    auth.logout(request)
    return redirect("runs:index")


@require_POST
def local_login(request):
    """Log in as the machine's local user (embedded default only, loopback only).

    This lets `./dev serve` users start runs without signing up, while a deployment
    (PAGEMIG_LOCAL_USER off, the default in production) has no such door.
    """
    if not settings.LOCAL_USER_ENABLED or _client_ip(request) not in LOOPBACK:
        return HttpResponseForbidden("The local user is disabled on this site.")
    user = get_local_user()
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(request.POST.get("next") or "runs:index")


def get_local_user():
    user, created = User.objects.get_or_create(username=LOCAL_USERNAME)
    if created:
        # No password: the account is reachable only through local_login.
        user.set_unusable_password()
        user.save()
        Profile.objects.create(user=user, role="teacher")
    return user
