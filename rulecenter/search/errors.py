"""What a search can answer instead of results, shared by the selector (which reads) and the follower."""

INDEX_MISSING = "搜索索引还没有建立，请稍后再试（管理员可运行 rulecenter reindex）。"


class SearchUnavailable(Exception):
    """This node has no index to search yet (or only one left by another database)."""
