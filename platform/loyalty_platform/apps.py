from django.apps import AppConfig


class LoyaltyPlatformConfig(AppConfig):
    name = "loyalty_platform"
    label = "loyalty_platform"
    verbose_name = "Loyalty platform"

    def ready(self) -> None:
        # The one Celery app becomes the current app before any task is sent, so
        # the domain's ``shared_task`` tasks bind to it (and to its tenant-aware
        # task class) without importing the shell.
        from loyalty_platform import celery  # noqa: F401
