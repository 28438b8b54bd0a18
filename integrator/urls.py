from django.urls import URLPattern, URLResolver

app_name = "integrator"

urlpatterns: list[URLPattern | URLResolver] = []
