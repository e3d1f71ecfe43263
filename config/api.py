"""The JSON API at /api/v1/: every router mounted here; errors are RFC 7807 problems (common/problems.py)."""

from rulecenter.announcements.api import router as announcements_router
from rulecenter.cases.api import router as cases_router
from rulecenter.common.limits import API_THROTTLES
from rulecenter.common.problems import ProblemAPI
from rulecenter.consultations.api import router as consultations_router
from rulecenter.ingest.api import router as channels_router
from rulecenter.notifications.api import router as subscriptions_router
from rulecenter.rules.acknowledgments_api import router as acknowledgments_router
from rulecenter.rules.acknowledgments_api import rule_router as rule_acknowledgments_router
from rulecenter.rules.api import bundles_router as rule_bundles_router
from rulecenter.rules.api import router as rules_router
from rulecenter.search.api import router as search_router

api = ProblemAPI(
    title="rulecenter API",
    version="1",
    description="规则中心的公告接口。写操作需要 `Authorization: Bearer <令牌>`（用 `rulecenter issue_token` 签发）；"
    "所有错误都以 RFC 7807 `application/problem+json` 返回，语言随 Accept-Language（默认简体中文）。",
    urls_namespace="api",
    # Per token, and per address without one (docs/api.md#rate-limits); votes and search add their own.
    throttle=API_THROTTLES,
)
api.add_router("/announcements", announcements_router)
api.add_router("/rules/bundles", rule_bundles_router)
api.add_router("/rules", rules_router)
api.add_router("/rules", rule_acknowledgments_router)
api.add_router("/acknowledgments", acknowledgments_router)
api.add_router("/search", search_router)
api.add_router("/consultations", consultations_router)
api.add_router("/subscriptions", subscriptions_router)
api.add_router("/cases", cases_router)
api.add_router("/channels", channels_router)
