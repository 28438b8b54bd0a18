from django.urls import URLPattern, URLResolver, path

from aigateway import views

app_name = "aigateway"

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/chat/completions", views.chat_completions, name="chat_completions"),
]
