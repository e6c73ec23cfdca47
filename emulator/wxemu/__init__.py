"""wxemu: a local, faithful emulator of the WeChat OpenAPI for wxapush's tests and local stack."""

__version__ = "0.1.0"
