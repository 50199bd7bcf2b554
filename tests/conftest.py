import pytest
from django.contrib.auth.models import User

from pagemig_site.accounts.models import Profile

# Live server and Chromium fixtures for the browser tests (tests/test_browser_*.py).
pytest_plugins = ["tests.browserkit"]


def make_user(username, role):
    user = User.objects.create_user(username, password="correct horse battery")
    Profile.objects.create(user=user, role=role)
    return user


@pytest.fixture
def teacher(db):
    """Alice, a teacher: owns the runs in most tests."""
    return make_user("alice", "teacher")


@pytest.fixture
def student(db):
    """Bob, a student: signed in, but the teacher's runs are not his."""
    return make_user("bob", "student")


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets its own in-memory layer (its queues belong to one event loop)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
