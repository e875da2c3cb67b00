"""polyopt-hello: a template plugin for polyopt.

It registers ``hello.hill-climb`` (a (1+λ) hill climber) and ``hello.bowl`` (a shifted quadratic bowl). Importing
this package is light; polyopt imports the modules behind each name only when the name is used.
"""

__version__ = "0.1.0"
