"""shellvault: AWS keys in the OS keystore, short-lived STS sessions in your shell."""

__version__ = "0.1.0"
