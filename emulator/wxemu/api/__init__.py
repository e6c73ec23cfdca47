"""Endpoint handlers: one function per WeChat API (or control-plane action), ``Call`` -> dict."""
