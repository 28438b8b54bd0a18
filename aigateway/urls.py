from django.urls import URLPattern, URLResolver

app_name = "aigateway"

urlpatterns: list[URLPattern | URLResolver] = []
