import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from pagemig_site.accounts.models import Profile, TokenBucket


@pytest.mark.django_db
def test_signup_creates_a_user_with_the_chosen_role_and_logs_in(client):
    r = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "password1": "a quite long pass 7",
            "password2": "a quite long pass 7",
            "role": "teacher",
        },
    )
    assert r.status_code == 302
    assert Profile.objects.get(user__username="carol").role == "teacher"
    assert client.get("/").context["user"].username == "carol"


@pytest.mark.django_db
def test_login_accepts_the_right_password_and_refuses_a_wrong_one(client, teacher):
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": "nope"}).status_code
        == 200
    )
    r = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 302


@pytest.mark.django_db
@override_settings(RATE_LIMITS={"login": (3, 60), "signup": (2, 3600), "run_create": (30, 60)})
def test_login_is_rate_limited_per_account(client, teacher):
    for _ in range(3):
        client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    r = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 429


@pytest.mark.django_db
@override_settings(RATE_LIMITS={"login": (3, 60), "signup": (2, 3600), "run_create": (30, 60)})
def test_signup_is_rate_limited_per_address(client):
    for i in range(2):
        client.post("/accounts/signup/", {"username": f"u{i}"})
    assert client.post("/accounts/signup/", {"username": "u9"}).status_code == 429


@pytest.mark.django_db
def test_token_bucket_state_lives_in_the_database_so_it_holds_across_processes():
    assert TokenBucket.authorize("t", "k", capacity=2, period=60)
    assert TokenBucket.authorize("t", "k", capacity=2, period=60)
    assert not TokenBucket.authorize("t", "k", capacity=2, period=60)
    # What another process would see: the row, not this process's memory.
    assert TokenBucket.objects.get().tokens < 0.01
    assert "k" not in TokenBucket.objects.get().value  # keys are stored hashed


@pytest.mark.django_db
def test_local_user_logs_in_from_loopback_on_the_embedded_default(client):
    r = client.post("/accounts/local/", REMOTE_ADDR="127.0.0.1")
    assert r.status_code == 302
    user = User.objects.get(username="local")
    assert not user.has_usable_password()
    assert Profile.objects.get(user=user).role == "teacher"


@pytest.mark.django_db
def test_local_user_is_refused_from_other_addresses(client):
    assert client.post("/accounts/local/", REMOTE_ADDR="203.0.113.5").status_code == 403


@pytest.mark.django_db
@override_settings(LOCAL_USER_ENABLED=False)
def test_local_user_is_refused_when_disabled(client):
    assert client.post("/accounts/local/", REMOTE_ADDR="127.0.0.1").status_code == 403
