"""WSGI entry point for production servers: ``gunicorn -c survey_engine/gunicorn_conf.py wsgi:app``."""
from survey_engine.app import create_app

app = create_app()
