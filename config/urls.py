from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.api import api
from rulecenter.cases import views as case_views
from rulecenter.site import calendar, health, language

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="announcements:list", permanent=False), name="home"),
    path("news/", include("rulecenter.site.news_urls")),
    # A change's record (/rules/bundles/<id>/record …) before the rule pages, whose <slug>/ would match first.
    path("rules/", include("rulecenter.site.record_urls")),
    path("rules/<slug:slug>/cases/", case_views.rule_statistics, name="rule_cases"),
    path("rules/", include("rulecenter.rules.urls")),
    path("search/", include("rulecenter.search.urls")),
    path("consultations/", include("rulecenter.consultations.urls")),
    path("audit/", include("rulecenter.audit.urls")),
    path("notifications/", include("rulecenter.notifications.urls")),
    path("me/cases/", include("rulecenter.cases.urls")),
    path("me/", include("rulecenter.site.me_urls")),
    path("language/", language.language_set, name="language"),
    path("calendar/", calendar.calendar_page, name="calendar"),
    path("calendar.ics", calendar.calendar_ics, name="calendar_ics"),
    path("feeds/", include("rulecenter.announcements.feed_urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # For the load balancer and Prometheus (site/health.py): liveness, readiness, metrics.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.Readiness.as_view(), name="readyz"),
    path("metrics", health.metrics, name="metrics"),
]

handler400 = "rulecenter.common.views.bad_request"
handler404 = "rulecenter.common.views.page_not_found"
handler500 = "rulecenter.common.views.server_error"
