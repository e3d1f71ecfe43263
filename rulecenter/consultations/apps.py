from django.apps import AppConfig


class ConsultationsConfig(AppConfig):
    name = "rulecenter.consultations"
    label = "consultations"
    verbose_name = "意见征集"
