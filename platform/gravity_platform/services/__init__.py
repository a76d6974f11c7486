"""Built-in services, each a plugin like any third-party one."""
