from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "coalition.catalogue"
    label = "catalogue"
    verbose_name = "Coalition catalogue"
