"""The dashboard's page, scripts and styles (``static/``), served by ``services.dashboard``."""
