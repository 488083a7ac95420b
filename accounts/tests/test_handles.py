"""Handles: derived from the email at creation, unique, shown wherever a user is, resolved for @mentions."""

import importlib

from django.apps import apps as global_apps
from django.urls import reverse

from accounts.models import User, handle_base, unique_handle
from accounts.tests.factories import PASSWORD, UserFactory


def test_a_new_user_gets_a_handle_from_the_email(db):
    user = User.objects.create_user("Ada.Lovelace+cc@example.com", "a-long-unusual-pass")
    assert user.handle == "ada-lovelace-cc"


def test_a_taken_handle_gets_a_suffix(db):
    first = UserFactory(email="sam@example.com")
    second = UserFactory(email="sam@example.org")
    third = UserFactory(email="SAM@example.net")
    assert [first.handle, second.handle, third.handle] == ["sam", "sam-2", "sam-3"]


def test_short_or_odd_addresses_still_give_a_valid_handle(db):
    assert handle_base("a@example.com") == "user-a"
    assert handle_base("+++@example.com") == "user"
    assert len(handle_base("x" * 80 + "@example.com")) <= 40
    user = UserFactory(email="é@example.com")
    user.full_clean(exclude=["email", "password"])  # the derived handle passes its own validator


def test_register_answers_the_handle_and_me_shows_it(api_client, db):
    response = api_client.post(reverse("api:auth-register"),
                               {"email": "grace@example.com", "password": "a-long-unusual-pass", "name": "Grace"})
    assert response.status_code == 201
    assert response.json()["handle"] == "grace"
    token = api_client.post(reverse("api:auth-login"), {"email": "grace@example.com", "password": "a-long-unusual-pass"},
                            format="json").json()["access_token"]
    me = api_client.get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200
    assert me.json()["handle"] == "grace"


def test_project_owner_and_members_show_their_handle(api_client, db):
    owner = UserFactory(email="owner-h@example.com")
    token = api_client.post(reverse("api:auth-login"), {"email": owner.email, "password": PASSWORD},
                            format="json").json()["access_token"]
    created = api_client.post("/api/v1/projects/", {"name": "Handles"}, format="json",
                              HTTP_AUTHORIZATION=f"Bearer {token}")
    assert created.status_code == 201
    assert created.json()["owner"]["handle"] == "owner-h"


def test_resolve_handles(db):
    ada = UserFactory(email="ada@example.com")
    bob = UserFactory(email="bob@example.com")
    UserFactory(email="gone@example.com", is_active=False)
    assert User.objects.resolve_handles(["@ada", "BOB", "nobody", "gone", ""]) == {"ada": ada, "bob": bob}
    assert User.objects.resolve_handles([]) == {}
    assert User.objects.by_handle("@Ada") == ada
    assert User.objects.by_handle("nobody") is None


def test_the_data_migration_fills_existing_users(db):
    UserFactory(email="kim@example.com")
    User.objects.filter(email="kim@example.com").update(handle="")
    UserFactory(email="kim@example.org")  # takes "kim", which the first one no longer holds
    migration = importlib.import_module("accounts.migrations.0004_user_handle")
    migration.fill_handles(global_apps, None)
    handles = dict(User.objects.values_list("email", "handle"))
    assert handles["kim@example.org"] == "kim"
    assert handles["kim@example.com"] == "kim-2"
    assert unique_handle("kim@example.net") == "kim-3"


def test_a_handle_taken_during_registration_is_chosen_again(api_client, db, monkeypatch):
    import accounts.models

    UserFactory(email="ada@example.org")
    real = accounts.models.unique_handle
    answers = iter(["ada"])  # as if "ada" were still free when the handle was chosen
    monkeypatch.setattr(accounts.models, "unique_handle", lambda email, **kw: next(answers, None) or real(email, **kw))
    response = api_client.post(reverse("api:auth-register"), {"email": "ada@example.com", "password": "a-long-unusual-pass"},
                               format="json")
    assert response.status_code == 201
    assert User.objects.get(email="ada@example.com").handle == "ada-2"
