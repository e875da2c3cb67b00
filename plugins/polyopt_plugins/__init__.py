"""polyopt's builtin plugins: one subpackage per family, each with a thin ``plugin.py`` of hook implementations."""
