"""Entry point ``python -m kvembed.run`` (the Hydra runner lives in ``kvembed.harness.run``; nothing in the
core library imports this module)."""

from kvembed.harness.run import main

if __name__ == "__main__":
    main()
