from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from . import listing

UPLOAD_MAX_BYTES = (
    2 * 1024 * 1024
)  # the preview posts the text back; larger files: `rulecenter import_listing`
FORM_NOTHING = _("请粘贴文本或选择一个文件。")
FORM_TOO_LARGE = _("文件超过 2 MB；大文件请用命令 rulecenter import_listing 导入。")


class ImportForm(forms.Form):
    """Step one (paste or upload) and step two (confirm the previewed text) of the admin's import."""

    FORMATS = [
        ("auto", _("自动识别")),
        ("listing", _("新闻列表页（“• 标题”+摘要，页脚“共N条”）")),
        ("announcement", _("单篇公告（第一行为标题）")),
    ]

    text = forms.CharField(
        label=_("粘贴文本"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100}),
    )
    upload = forms.FileField(label=_("或上传文件"), required=False)
    format = forms.ChoiceField(label=_("格式"), choices=FORMATS, initial="auto")
    encoding = forms.CharField(label=_("文件编码"), initial="utf-8", max_length=32)
    source = forms.CharField(
        label=_("来源频道"),
        required=False,
        max_length=100,
        help_text=_("留空则取链接中最常见的域名，如 rulechannel.1688.com。"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("upload")
        text: str = data.get("text") or ""
        name = str(_("粘贴的文本"))
        try:
            if upload is not None:
                if upload.size is not None and upload.size > UPLOAD_MAX_BYTES:
                    raise forms.ValidationError(FORM_TOO_LARGE)
                name = upload.name or name
                text = listing.decode(upload.read(), name=name, encoding=data.get("encoding") or "utf-8")
            elif not text.strip():
                raise forms.ValidationError(FORM_NOTHING)
            text = text.replace("\r\n", "\n")
            chosen = data.get("format") or "auto"
            if chosen == "auto":
                chosen = "listing" if listing.is_listing(text) else "announcement"
            page = listing.parse(text, name=name) if chosen == "listing" else listing.single(text, name=name)
        except listing.ListingError as error:
            raise forms.ValidationError(str(error)) from None
        data.update(text=text, format=chosen, pages=[page])
        return data
