"""Django project shell of the coalition loyalty platform.

Settings, URL routing, the Celery app, the command-line entry point, the demo
seed and development tools. It sits on top of every layer and nothing below
imports it; the Celery app is loaded when Django starts (``apps.py``), so domain
code declares its tasks with ``shared_task`` and never imports this package.
"""
