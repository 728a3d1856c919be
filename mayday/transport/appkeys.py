"""Typed keys of the aiohttp application, in a module of their own to avoid import cycles."""

from aiohttp import web

from mayday.settings import Settings
from mayday.transport.server import Server

SERVER = web.AppKey("server", Server)
SETTINGS = web.AppKey("settings", Settings)
