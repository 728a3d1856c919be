"""The I/O edge: WebSocket connections, the handler registry, timers and the aiohttp app."""
