"""The app's own address, opened in a browser."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_the_apps_address_explains_where_the_app_lives(client: Client, settings):
    settings.APP_BASE_URL = "https://pdn.example.ru"

    response = client.get("/")

    assert response.status_code == 200
    assert "https://pdn.example.ru/b24/install/" in response.content.decode()
