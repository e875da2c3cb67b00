"""``python -m polyopt`` runs the command line (same as the ``polyopt`` script)."""

from polyopt.cli import main

if __name__ == "__main__":
    main()
