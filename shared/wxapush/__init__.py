"""wxapush: reliable WeChat mini-program subscribe messages from Tencent Cloud functions."""

__version__ = "0.1.0"
