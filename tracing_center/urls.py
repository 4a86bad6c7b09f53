from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script from a URL: no inline script under the CSP (issue 9).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("tasks.urls_security")),  # issue 9: two-factor, reveal, audit
    path("api/v1/", include("duty.api_urls")),  # Duty operations: roster, workload, supervision orders
    path("api/v1/", include("monitoring.api_urls")),  # Monitoring: periods, check-ins, lab results
    path("api/v1/", include("reports.api_urls")),  # Reports (issue 7): before tasks.api.urls
    path("api/v1/", include("reviews.api_urls")),  # Reviews (issue 6): before tasks.api.urls
    path("api/v1/", include("tasks.api.urls")),
    path("reviews/", include("reviews.urls")),  # Reviews (issue 6)
    path("", include("notices.urls")),  # Notices: /notices/, /n/<token>/, /board/, /api/v1/notices/
    path("", include("monitoring.urls")),  # Monitoring: due today, check-ins, alerts, lab results
    path("", include("duty.urls")),  # Duty operations: roster, handover, workload, supervision
    path("", include("reports.urls")),  # Reports (issue 7): dashboard, stats, reports
    path("", include("tasks.urls")),
]

# A URL that matches no route under /api/ (e.g. a non-numeric id where the route wants a number) is a
# JSON 404 like every other API error, not the HTML page.
from . import api_schema  # noqa: E402,F401  (registers the OpenAPI extension of the session authentication)

handler404 = "tracing_center.api_schema.not_found"
handler400 = "tracing_center.api_schema.bad_request"  # e.g. too many form fields
