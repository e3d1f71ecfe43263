"""Writes to consultations, one transaction each, in the rooms they belong to:

- `windows`: opening a consultation on draft versions, and what may change once it has opened;
- `votes`: who may vote and when, and the vote itself;
- `opinions`: an operator's review of the opinions and the answer to each cluster;
- the close — gathering the opinions and drafting the 结果反馈 — lives with its runner in `..results`
  (services → tasks → results), and is offered here too.

`from rulecenter.consultations import services; services.vote_cast(...)` reaches every one of them.
"""

from ..models import OPTION_KEY_INVALID
from ..results import (
    RESULT_ALREADY_PUBLISHED,
    RESULT_NOT_CLOSED,
    consultation_result_draft,
    opinions_cluster,
    opinions_collect,
)
from .opinions import REVIEW_CODE_MISMATCH, check_review_code, cluster_respond, cluster_review, opinion_review
from .votes import (
    VOTE_ANONYMOUS,
    VOTE_CHOICE_UNKNOWN,
    VOTE_CLOSED,
    VOTE_NOT_MEMBER,
    VOTE_NOT_OPEN,
    VOTE_NOT_VERIFIED,
    VOTE_REASON_REQUIRED,
    VOTE_REASON_TOO_LONG,
    VOTE_TOO_NEW,
    CastVote,
    RefusalKind,
    VoteRefused,
    eligible_member,
    vote_cast,
)
from .windows import (
    CLOSES_EARLIER,
    CONSULTATION_TITLE_EMPTY,
    DEFAULT_OPTIONS,
    MAX_OPTIONS,
    OPENS_IN_PAST,
    OPTION_DUPLICATE,
    OPTION_LABEL_INVALID,
    OPTIONS_TOO_FEW,
    OPTIONS_TOO_MANY,
    VERSION_ALREADY_NOTICED,
    VERSION_NOT_IN_BUNDLE,
    VERSION_NOTICE_BEFORE_CLOSE,
    VERSION_SAME_RULE,
    VERSIONS_EMPTY,
    WINDOW_CLOSED,
    WINDOW_LOCKED,
    WINDOW_TOO_SHORT,
    OptionSpec,
    check_window,
    consultation_create,
    consultation_update,
    options_editable,
)

__all__ = [
    "CLOSES_EARLIER",
    "CONSULTATION_TITLE_EMPTY",
    "DEFAULT_OPTIONS",
    "MAX_OPTIONS",
    "OPENS_IN_PAST",
    "OPTIONS_TOO_FEW",
    "OPTIONS_TOO_MANY",
    "OPTION_DUPLICATE",
    "OPTION_KEY_INVALID",
    "OPTION_LABEL_INVALID",
    "RESULT_ALREADY_PUBLISHED",
    "RESULT_NOT_CLOSED",
    "REVIEW_CODE_MISMATCH",
    "VERSIONS_EMPTY",
    "VERSION_ALREADY_NOTICED",
    "VERSION_NOTICE_BEFORE_CLOSE",
    "VERSION_NOT_IN_BUNDLE",
    "VERSION_SAME_RULE",
    "VOTE_ANONYMOUS",
    "VOTE_CHOICE_UNKNOWN",
    "VOTE_CLOSED",
    "VOTE_NOT_MEMBER",
    "VOTE_NOT_OPEN",
    "VOTE_NOT_VERIFIED",
    "VOTE_REASON_REQUIRED",
    "VOTE_REASON_TOO_LONG",
    "VOTE_TOO_NEW",
    "WINDOW_CLOSED",
    "WINDOW_LOCKED",
    "WINDOW_TOO_SHORT",
    "CastVote",
    "OptionSpec",
    "RefusalKind",
    "VoteRefused",
    "check_review_code",
    "check_window",
    "cluster_respond",
    "cluster_review",
    "consultation_create",
    "consultation_result_draft",
    "consultation_update",
    "eligible_member",
    "opinion_review",
    "opinions_cluster",
    "opinions_collect",
    "options_editable",
    "vote_cast",
]
