from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "tenants.rewards"
    label = "rewards"
    verbose_name = "Rewards and vouchers"
