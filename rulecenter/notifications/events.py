"""The events subscribers hear of, and what each is called in a message (gettext msgids)."""

EVENT_LABELS = {
    "announcement.published": "公告发布",
    "announcement.corrected": "公告更正",
    "announcement.withdrawn": "公告撤回",
    "rule.noticed": "规则变更公示",
    "rule.effective": "规则变更生效",
    "consultation.opened": "意见征集开始",
    "consultation.closing": "意见征集 24 小时内截止",
    "consultation.closed": "意见征集结束",
    "consultation.result_published": "意见征集结果公布",
}
