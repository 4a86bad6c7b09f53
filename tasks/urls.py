from django.urls import path

from .views import accounts

urlpatterns = [
    path("", accounts.home, name="home"),
    path("accounts/activate/", accounts.activate, name="activate"),
    path("healthz", accounts.healthz, name="healthz"),
]
