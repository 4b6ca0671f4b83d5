"""Loaded at start-up by the SDK 3 example subprocesses (PYTHONPATH): record outbound connections."""
import os

if os.environ.get("SMLOCAL_OUTBOUND_LOG"):
    import offline_audit

    offline_audit.install_to_file(os.environ["SMLOCAL_OUTBOUND_LOG"])
