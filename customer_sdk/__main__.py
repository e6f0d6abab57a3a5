"""``python -m customer_sdk``: the same as the ``customer-sdk`` command."""

from customer_sdk.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
