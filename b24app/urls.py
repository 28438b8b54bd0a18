from django.urls import include, path

urlpatterns = [
    path("", include("integrator.urls")),
    path("", include("compliance.urls")),
    path("", include("aigateway.urls")),
]
