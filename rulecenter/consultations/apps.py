from django.apps import AppConfig


class ConsultationsConfig(AppConfig):
    name = "rulecenter.consultations"
    label = "consultations"
    verbose_name = "意见征集"

    def ready(self) -> None:
        from rulecenter.common.changes import content_changing

        from . import receivers

        content_changing.connect(receivers.content_changing, dispatch_uid="consultations_content_changing")
