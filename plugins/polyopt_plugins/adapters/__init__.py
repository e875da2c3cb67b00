"""Adapters: third-party libraries as polyopt plugins (pymoo problems and algorithms).

Nothing here is imported when the plugin registers; pymoo loads on first use of a ``pymoo.*`` name.
"""
